"""The lint: every rule, with its message in both languages and its place."""

import pytest

from itembank.formats import ParsedItem
from itembank.lint import lint_file, lint_items
from itembank.model import (
    AcceptedText,
    Difficulty,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    TrueFalse,
)
from itembank.problems import Location, at

GOOD = SingleChoice(
    options=(Option(id="A", text="正确", fraction=1.0), Option(id="B", text="错误"))
)


def entry(line=1, **fields):
    fields.setdefault("key", f"k{line}")
    fields.setdefault("stem", f"关于继续教育学时的规定，第 {line} 题的说法是")
    fields.setdefault("body", GOOD)
    fields.setdefault("topic", "政策法规")
    return ParsedItem(item=Item(**fields), location=Location(line=line, col=1))


def only(problems, code):
    found = [p for p in problems if p.code == code]
    assert found, f"no {code} among {[p.code for p in problems]}"
    return found


def test_a_clean_item_has_no_problems():
    assert lint_items([entry()]) == []


def test_an_item_without_a_stem_is_an_error_at_its_line():
    (p,) = only(lint_items([entry(line=7, stem="  ")]), "empty-stem")
    assert (p.line, p.severity) == (7, "error")
    assert p.message == "item 'k7' has no stem"
    assert p.message_zh == "试题 'k7' 缺少题干"


@pytest.mark.parametrize(
    ("body", "message", "message_zh"),
    [
        (
            SingleChoice(options=(Option(id="A", text="甲"), Option(id="B", text="乙"))),
            "single-choice item has no correct option",
            "单选题没有正确选项",
        ),
        (
            MultipleChoice(options=(Option(id="A", text="甲"), Option(id="B", text="乙"))),
            "choice question has no key",
            "选择题没有正确答案",
        ),
        (TrueFalse(), "true/false item has no answer", "判断题缺少答案"),
        (FillBlank(), "fill-in-the-blank item has no accepted answer", "填空题没有参考答案"),
        (Numerical(), "numerical item has no answer", "数值题缺少答案"),
        (
            Matching(pairs=(Pair(prompt="甲", answer="乙"),)),
            "a matching item needs at least 2 pairs, it has 1",
            "匹配题至少需要 2 组配对，实际为 1 组",
        ),
    ],
)
def test_an_item_without_a_key_is_reported_for_each_kind(body, message, message_zh):
    (p,) = only(lint_items([entry(body=body)]), "missing-key")
    assert (p.message, p.message_zh) == (message, message_zh)


def test_a_single_choice_with_two_fully_correct_options_is_impossible():
    body = SingleChoice(
        options=(Option(id="A", text="甲", fraction=1), Option(id="B", text="乙", fraction=1))
    )
    (p,) = only(lint_items([entry(body=body)]), "impossible-key")
    assert "2 fully correct options (A、B)" in p.message
    assert "请改为多选题" in p.message_zh


def test_partial_credits_that_do_not_add_up_to_full_credit_are_impossible():
    body = MultipleChoice(
        scoring="partial",
        options=(
            Option(id="A", text="甲", fraction=0.5),
            Option(id="B", text="乙", fraction=0.3),
            Option(id="C", text="丙"),
        ),
    )
    (p,) = only(lint_items([entry(body=body)]), "impossible-key")
    assert p.message == "the correct options' credits add up to 80%, not 100%"


def test_an_option_worth_more_than_full_credit_is_impossible():
    body = SingleChoice(
        options=(Option(id="A", text="甲", fraction=1.5), Option(id="B", text="乙"))
    )
    messages = [p.message for p in only(lint_items([entry(body=body)]), "impossible-key")]
    assert "option A is worth 150%; credit must be between -100% and 100%" in messages


def test_fill_blank_and_numerical_keys_that_cannot_earn_full_credit_are_impossible():
    fill = FillBlank(answers=(AcceptedText(text="北京", fraction=0.5),))
    num = Numerical(answers=(NumericAnswer(value=3.14, tolerance=-0.1),))
    (p,) = only(lint_items([entry(body=fill)]), "impossible-key")
    assert p.message_zh == "该填空题没有可得满分的答案"
    messages = [p.message for p in only(lint_items([entry(body=num)]), "impossible-key")]
    assert messages == ["tolerance must not be negative, got -0.1"]


def test_duplicate_options_are_found_across_width_and_case():
    body = SingleChoice(
        options=(
            Option(id="A", text="ＡＢＣ", fraction=1),
            Option(id="B", text="abc"),
            Option(id="C", text="丙"),
        )
    )
    (p,) = only(lint_items([entry(body=body)]), "duplicate-option")
    assert p.message == "options A and B read the same: 'abc'"
    assert p.message_zh == "选项 A 与 B 内容相同：'abc'"


def test_a_choice_item_with_one_option_is_reported():
    body = SingleChoice(options=(Option(id="A", text="甲", fraction=1),))
    (p,) = only(lint_items([entry(body=body)]), "few-options")
    assert p.message == "a choice item needs at least 2 options, it has 1"


def test_duplicate_keys_name_the_first_items_line():
    (p,) = only(lint_items([entry(line=3, key="x"), entry(line=9, key="x")]), "duplicate-key")
    assert (p.line, p.message) == (9, "key 'x' is already used by the item at line 3")


def test_the_same_question_twice_is_an_error_and_a_shared_stem_a_warning():
    same = [
        entry(line=1, stem="数字经济的核心产业包括哪些内容"),
        entry(line=8, stem="数字经济的核心产业包括哪些内容？"),
    ]
    (p,) = only(lint_items(same), "duplicate-item")
    assert (p.line, p.severity) == (8, "error")
    other = SingleChoice(options=(Option(id="A", text="甲", fraction=1), Option(id="B", text="乙")))
    shared = [same[0], entry(line=8, stem="数字经济的核心产业包括哪些内容", body=other)]
    (w,) = only(lint_items(shared), "duplicate-stem")
    assert w.severity == "warning"
    assert w.message == "item 'k8' has the same stem as item 'k1' at line 1"


def test_short_generic_stems_are_not_reported_as_duplicates():
    other = SingleChoice(options=(Option(id="A", text="甲", fraction=1), Option(id="B", text="乙")))
    items = [
        entry(line=1, stem="下列说法正确的是"),
        entry(line=5, stem="下列说法正确的是", body=other),
    ]
    assert lint_items(items) == []


def test_near_duplicate_stems_are_warned_about():
    base = "专业技术人员每年参加继续教育的时间累计不少于九十学时，其中公需科目不少于三十学时"
    items = [entry(line=1, stem=base), entry(line=6, stem=base.replace("九十", "90"))]
    (p,) = only(lint_items(items), "near-duplicate")
    assert (p.line, p.severity) == (6, "warning")
    assert p.message_zh.startswith("试题 'k6' 与第 1 行的试题 'k1' 题干几乎相同")


def test_different_stems_are_not_near_duplicates():
    items = [
        entry(line=1, stem="专业技术人员每年参加继续教育的时间累计不少于九十学时"),
        entry(line=6, stem="数字经济是以数据资源为关键要素的新经济形态"),
    ]
    assert lint_items(items) == []


def test_an_enemy_group_with_one_member_is_probably_misspelled():
    items = [
        entry(line=1, enemy_group="同源A"),
        entry(line=5, enemy_group="同源A"),
        entry(line=9, enemy_group="同源a"),
    ]
    (p,) = only(lint_items(items), "unknown-enemy")
    assert p.line == 9
    assert p.message == "enemy group '同源a' has no other item; check its spelling"


@pytest.mark.parametrize(
    ("difficulty", "message"),
    [
        (Difficulty(facility=1.2), "difficulty (facility) must be between 0 and 1, got 1.2"),
        (Difficulty(band=6), "difficulty band must be 1–5, got 6"),
        (Difficulty(irt_a=0.0), "IRT discrimination a must be in (0, 5], got 0.0"),
        (Difficulty(irt_b=-9.0), "IRT difficulty b must be in [-6, 6], got -9.0"),
    ],
)
def test_difficulty_out_of_range_is_an_error(difficulty, message):
    (p,) = only(lint_items([entry(difficulty=difficulty)]), "difficulty-range")
    assert p.message == message


def test_an_item_without_a_topic_is_a_warning():
    (p,) = only(lint_items([entry(topic="")]), "empty-topic")
    assert p.severity == "warning"
    assert p.message_zh == "试题 'k1' 未填写知识点，组卷时无法归入任何分类"


def test_points_must_be_positive():
    (p,) = only(lint_items([entry(points=0)]), "bad-points")
    assert p.message == "points must be a positive number, got 0"


def test_a_problem_formats_as_file_line_col_code_message():
    (p,) = only(lint_items([entry(line=12, points=-1)]), "bad-points")
    assert at(p, file="bank.gift").format() == (
        "bank.gift:12:1: error bad-points points must be a positive number, got -1"
    )
    assert at(p, file="bank.gift").format(lang="zh").endswith("分值必须为正数，实际为 -1")


def test_lint_file_reads_any_format_and_places_problems_in_the_file():
    data = "::k1:: 数字经济是什么？{=甲 =乙 ~丙}\n".encode()
    report = lint_file(data, source="bank.gift")
    assert report.format == "gift"
    assert report.problems, "two fully correct options in a single choice must be reported"
    assert all(p.file == "bank.gift" for p in report.problems)


def test_the_chinese_lint_line_says_error_and_warning_in_chinese():
    (p,) = only(lint_items([entry(line=3, points=-1)]), "bad-points")
    placed = at(p, file="bank.gift")
    assert placed.format(lang="zh") == "bank.gift:3:1: 错误 bad-points 分值必须为正数，实际为 -1"
    assert (
        placed.format()
        == "bank.gift:3:1: error bad-points points must be a positive number, got -1"
    )
    (w,) = only(lint_items([entry(line=4, topic="")]), "empty-topic")
    assert at(w, file="b.gift").format(lang="zh").startswith("b.gift:4:1: 警告 empty-topic 试题")


@pytest.mark.parametrize(
    ("source", "data", "zh"),
    [
        (
            "a.gift",
            "没有答案块的说明文字。\n",
            "不支持GIFT 说明文字（没有答案块的题目），该题未导入",
        ),
        ("b.gift", "::e:: 请论述。{}\n", "不支持GIFT 问答题（空的花括号），该题未导入"),
        (
            "c.xml",
            '<quiz><question type="essay"><name><text>x</text></name></question></quiz>',
            "不支持Moodle 题型 'essay'，该题未导入",
        ),
    ],
)
def test_constructs_left_out_are_named_in_chinese(source, data, zh):
    report = lint_file(data.encode(), source=source)
    assert zh in [p.message_zh for p in report.problems]
    assert report.items_seen == 1 and report.items_parsed == 0


@pytest.mark.parametrize(
    ("source", "data", "seen", "parsed"),
    [
        # the upload page's case: three questions, one of which cannot be read
        (
            "three.gift",
            "::a:: 甲？{=对 ~错}\n\n::b:: 乙？{=对 ~错\n\n::c:: 丙？{TRUE}\n",
            3,
            2,
        ),
        (
            "three.csv",
            "题型,题干,选项A,选项B,答案\n单选题,甲？,对,错,A\n单选题,乙？,对,错,E\n判断题,丙？,,,对\n",
            3,
            2,
        ),
        (
            "three.aiken",
            "甲？\nA. 对\nB. 错\nANSWER: A\n\n乙？\nA. 对\nB. 错\nANSWER: E\n\n"
            "丙？\nA. 对\nB. 错\nANSWER: B\n",
            3,
            2,
        ),
        (
            "three.yaml",
            "format: examengine-bank\nitems:\n  - {kind: single, key: a, stem: 甲}\n"
            "  - {kind: single, key: b, stem: 乙, points: many}\n  - {kind: essay, key: c}\n",
            3,
            1,
        ),
        ("broken.yaml", "format: [\n", 0, 0),
    ],
)
def test_the_lint_counts_every_question_seen_not_only_those_read(source, data, seen, parsed):
    report = lint_file(data.encode(), source=source)
    assert (report.items_seen, report.items_parsed) == (seen, parsed)


def test_the_summary_line_in_both_languages_with_english_plurals():
    report = lint_file("::a:: 甲？{=对 ~错}\n\n::b:: 乙？{=对 ~错\n".encode(), source="x.gift")
    assert report.summary("x.gift") == "x.gift: 2 items (1 not read), 1 error, 1 warning"
    assert (
        report.summary("x.gift", lang="zh")
        == "x.gift：2 道试题（1 道未能读取），1 个错误，1 个警告"
    )
