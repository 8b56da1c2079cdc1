"""The GIFT reader and writer: Moodle's semantics, every error with its place, round trips."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itembank.formats import ParsedItem, ParseResult, gift
from itembank.lint import lint_items
from itembank.model import (
    AcceptedText,
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
    derive_key,
    option_id,
)
from itembank.problems import Location, Problem
from itembank.scoring import score


def parse(text: str) -> ParseResult:
    return gift.parse(text.encode())


def only_item(text: str) -> Item:
    result = parse(text)
    assert result.problems == ()
    assert len(result.items) == 1
    return result.items[0].item


def only_problem(text: str) -> Problem:
    result = parse(text)
    assert result.items == ()
    assert len(result.problems) == 1
    return result.problems[0]


def options(*spec: tuple[str, float] | tuple[str, float, str]) -> tuple[Option, ...]:
    return tuple(
        Option(id=option_id(i), text=s[0], fraction=s[1], feedback=s[2] if len(s) > 2 else "")
        for i, s in enumerate(spec)
    )


# ------------------------------------------------------------------ question types


def test_true_false_answers_in_all_four_spellings() -> None:
    for written, answer in [("T", True), ("TRUE", True), ("F", False), ("FALSE", False)]:
        assert only_item(f"Grass is green.{{{written}}}").body == TrueFalse(answer=answer)


def test_true_false_first_feedback_is_for_a_wrong_answer_as_in_moodle() -> None:
    body = only_item("42 is the answer.{FALSE#It is the Ultimate Answer.#Right.}").body
    assert body == TrueFalse(
        answer=False, feedback_true="It is the Ultimate Answer.", feedback_false="Right."
    )
    body = only_item("Water is wet.{TRUE#Think again.#Yes.}").body
    assert body == TrueFalse(answer=True, feedback_true="Yes.", feedback_false="Think again.")


def test_lower_case_true_is_a_short_answer_as_in_moodle() -> None:
    assert only_item("Say it.{true}").body == FillBlank(answers=(AcceptedText(text="true"),))


def test_equals_and_tildes_make_a_single_choice_with_partial_credit_weights() -> None:
    item = only_item("Pick one.{=right#yes ~%50%half ~wrong#no}")
    assert item.body == SingleChoice(
        options=options(("right", 1.0, "yes"), ("half", 0.5), ("wrong", 0.0, "no"))
    )


def test_tildes_with_weights_and_no_equals_make_a_partial_multiple_choice() -> None:
    item = only_item("Pick two.{~%50%a ~%50%b ~%-100%c}")
    assert item.body == MultipleChoice(
        options=options(("a", 0.5), ("b", 0.5), ("c", -1.0)), scoring="partial"
    )


def test_fractional_weights_are_read_exactly() -> None:
    body = only_item("Continents?{~%33.33333%Africa ~%-100%China}").body
    assert isinstance(body, MultipleChoice)
    assert [o.fraction for o in body.options] == [0.3333333, -1.0]


def test_a_weight_after_equals_in_a_choice_is_text_as_in_moodle() -> None:
    body = only_item("Pick.{=%50%a ~b}").body
    assert body == SingleChoice(options=options(("%50%a", 1.0), ("b", 0.0)))


def test_equals_only_answers_make_a_short_answer_with_weights() -> None:
    item = only_item("Who?{=no one#good =%50%nobody =%0%*#wrong}")
    assert item.body == FillBlank(
        answers=(
            AcceptedText(text="no one", feedback="good"),
            AcceptedText(text="nobody", fraction=0.5),
            AcceptedText(text="*", fraction=0.0, feedback="wrong"),
        )
    )


def test_a_single_unmarked_answer_is_a_short_answer() -> None:
    assert only_item("One in words?{One}").body == FillBlank(answers=(AcceptedText(text="One"),))


@pytest.mark.parametrize(
    ("written", "value", "tolerance"),
    [
        ("#1822", 1822.0, 0.0),
        ("#-1", -1.0, 0.0),
        ("#1822:5", 1822.0, 5.0),
        ("#3.1415:0.0005", 3.1415, 0.0005),
        ("#1..5", 3.0, 2.0),
        ("#-5..5", 0.0, 5.0),
        ("#1e3", 1000.0, 0.0),
    ],
)
def test_numerical_answers_in_every_form(written: str, value: float, tolerance: float) -> None:
    body = only_item(f"Number?{{{written}}}").body
    assert body == Numerical(answers=(NumericAnswer(value=value, tolerance=tolerance),))


def test_numerical_with_several_weighted_answers_and_feedback() -> None:
    body = only_item("Born?{#\n=1822:0 #Exactly\n=%50%1822:2 #Close\n}").body
    assert body == Numerical(
        answers=(
            NumericAnswer(value=1822, feedback="Exactly"),
            NumericAnswer(value=1822, tolerance=2, fraction=0.5, feedback="Close"),
        )
    )


def test_numerical_catch_all_feedback_is_left_out_with_a_warning() -> None:
    result = parse("::Q5:: A number from 1 to 5? {#\n=3:2\n~#Completely wrong}")
    assert result.items[0].item.body == Numerical(answers=(NumericAnswer(value=3, tolerance=2),))
    [warning] = result.problems
    assert (warning.code, warning.severity, warning.line, warning.col) == (
        "unsupported-part",
        "warning",
        3,
        1,
    )
    assert "(~#…)" in warning.message and "不支持" in warning.message_zh


def test_matching_pairs_and_an_empty_prompt_as_distractor() -> None:
    body = only_item("Match.{\n=Canada -> Ottawa\n=Italy->Rome\n= -> Chat\n}").body
    assert body == Matching(
        pairs=(Pair(prompt="Canada", answer="Ottawa"), Pair(prompt="Italy", answer="Rome")),
        distractors=("Chat",),
    )


def test_arrows_in_a_choice_do_not_make_matching() -> None:
    body = only_item("Coffee?{~shop -> order =powder -> water}").body
    assert isinstance(body, SingleChoice)
    assert [o.text for o in body.options] == ["shop -> order", "powder -> water"]


# ------------------------------------------------------------------ stem, title, keys


def test_an_answer_block_in_the_middle_becomes_a_blank() -> None:
    item = only_item("Grant is {~buried =entombed ~living} in Grant's tomb.")
    assert item.stem == "Grant is _____ in Grant's tomb."


def test_an_answer_block_followed_by_punctuation_leaves_the_blank_next_to_it() -> None:
    assert only_item("Jesus was from {=Nazareth}.").stem == "Jesus was from _____."


def test_an_answer_block_at_the_end_is_removed_without_a_blank() -> None:
    assert only_item("Who is buried?\n{=no one}").stem == "Who is buried?"


def test_the_title_is_the_key() -> None:
    item = only_item("::Grant's Tomb::Grant is {=entombed ~buried} there.")
    assert item.key == "Grant's Tomb"


def test_without_a_title_the_id_comment_is_the_key() -> None:
    assert only_item("// [id:Q-17]\nWhat?{T}").key == "Q-17"


def test_a_title_wins_over_an_id() -> None:
    assert only_item("// [id:Q-17]\n::Named::What?{T}").key == "Named"


def test_without_title_or_id_the_key_is_derived_from_the_stem() -> None:
    assert only_item("What colour is grass?{=green}").key == derive_key("What colour is grass?")


def test_tags_come_from_comment_lines_only() -> None:
    item = only_item("// [tag:fred] [tag:barney-wilma] [tag:a\\]b]\nEssay [tag:no]?{T}")
    assert item.tags == ("fred", "barney-wilma", "a]b")
    assert item.stem == "Essay [tag:no]?"


def test_general_feedback_becomes_the_explanation() -> None:
    item = only_item("Best animal?{\n=Frog#Good!\n####[html]Some <b>general</b> feedback\n}")
    assert item.explanation == "Some <b>general</b> feedback"
    assert item.body == FillBlank(answers=(AcceptedText(text="Frog", feedback="Good!"),))


def test_text_formats_are_dropped_and_the_text_kept_as_written() -> None:
    item = only_item("::Q::[html]<p>The sun rises in the</p>{=[plain]east#[markdown]**yes** ~west}")
    assert item.stem == "<p>The sun rises in the</p>"
    assert item.body == SingleChoice(options=options(("east", 1.0, "**yes**"), ("west", 0.0)))


def test_lines_are_trimmed_and_joined_with_line_breaks_as_moodle_does() -> None:
    item = only_item("  First line  \n\tsecond line{\n  =one  \n  two\n}")
    assert item.stem == "First line\nsecond line"
    assert item.body == FillBlank(answers=(AcceptedText(text="one\ntwo"),))


def test_comment_lines_inside_a_question_are_ignored() -> None:
    item = only_item("// about this question\nWhat?{\n// not an answer\n=yes\n}")
    assert item.body == FillBlank(answers=(AcceptedText(text="yes"),))


def test_chinese_stems_answers_and_feedback() -> None:
    item = only_item("::中文题::中华人民共和国的首都是{=北京#正确！ ~上海#不对 ~广州}。\n")
    assert item.key == "中文题"
    assert item.stem == "中华人民共和国的首都是_____。"
    assert item.body == SingleChoice(
        options=options(("北京", 1.0, "正确！"), ("上海", 0.0, "不对"), ("广州", 0.0))
    )


def test_a_full_width_space_is_not_trimmed_because_php_trim_keeps_it() -> None:
    assert only_item("　缩进的题目{T}").stem == "　缩进的题目"


# ------------------------------------------------------------------ escapes


@pytest.mark.parametrize(
    ("written", "text"),
    [
        ("\\~", "~"),
        ("\\=", "="),
        ("\\#", "#"),
        ("\\{", "{"),
        ("\\}", "}"),
        ("\\:", ":"),
        ("\\\\", "\\"),
        ("a\\nb", "a\nb"),
        ("\\x", "\\x"),
        ("\\\\n", "\\n"),
    ],
)
def test_escapes_read_as_moodle_reads_them(written: str, text: str) -> None:
    item = only_item(f"Stem {written} end{{=ans {written} wer}}")
    assert item.stem == f"Stem {text} end"
    assert item.body == FillBlank(answers=(AcceptedText(text=f"ans {text} wer"),))


def test_an_escaped_backslash_before_a_tilde_leaves_the_tilde_a_control() -> None:
    body = only_item("Which?{=a\\\\~b}").body
    assert body == SingleChoice(options=options(("a\\", 1.0), ("b", 0.0)))


def test_an_escaped_colon_in_a_title() -> None:
    assert only_item("::Title\\:::What?{T}").key == "Title:"


# ------------------------------------------------------------------ categories


def test_category_sets_the_topic_of_the_following_questions() -> None:
    result = parse(
        "First?{T}\n\n$CATEGORY: $course$/top/Algebra/Linear equations\n\n"
        "Second?{T}\n\nThird?{F}\n\n$CATEGORY: $system$/top\n\nFourth?{T}\n"
    )
    assert [p.item.topic for p in result.items] == [
        "",
        "Algebra/Linear equations",
        "Algebra/Linear equations",
        "",
    ]


def test_category_without_context_or_top_is_kept_whole() -> None:
    result = parse("$CATEGORY: Unit 1: Topic/Sub\n\nQ?{T}")
    assert result.items[0].item.topic == "Unit 1: Topic/Sub"


# ------------------------------------------------------------------ unsupported


def test_an_essay_is_reported_unsupported_at_its_braces() -> None:
    problem = only_problem("// essay\n::Q8:: How are\nyou? {}")
    assert (problem.code, problem.line, problem.col) == ("unsupported", 3, 6)
    assert problem.message == (
        "a GIFT essay question (empty braces) is not supported; the item was not imported"
    )
    assert problem.message_zh == "不支持GIFT 问答题（空的花括号），该题未导入"


def test_a_description_is_reported_unsupported_at_its_first_line() -> None:
    problem = only_problem("\n\n  ::Intro::Use pencil and paper.")
    assert (problem.code, problem.line, problem.col) == ("unsupported", 3, 3)
    assert problem.message.startswith("a GIFT description (a question with no answer block)")


# ------------------------------------------------------------------ errors


def assert_syntax(text: str, line: int, col: int, message: str, message_zh: str) -> None:
    problem = only_problem(text)
    assert (problem.code, problem.severity) == ("syntax", "error")
    assert (problem.line, problem.col) == (line, col)
    assert problem.message == message
    assert problem.message_zh == message_zh


def test_unclosed_brace_is_reported_where_it_opens() -> None:
    assert_syntax(
        "Who?\n  answers {=a\n=b",
        2,
        11,
        "'{' opens an answer block that is not closed with '}' before the blank line "
        "that ends the question",
        "“{”开始的答案块在题目结束（空行）之前没有用“}”闭合",
    )


def test_closing_brace_without_opening_brace() -> None:
    assert_syntax(
        "Who? =a}",
        1,
        8,
        "'}' closes an answer block that was never opened; write \\} for a literal brace",
        "“}”之前没有对应的“{”；字面的花括号请写作 \\}",
    )


def test_closing_brace_before_opening_brace() -> None:
    problem = only_problem("Who} is {=a}")
    assert (problem.line, problem.col) == (1, 4)


def test_brace_inside_an_answer_block() -> None:
    assert_syntax(
        "Set?{=a {b}",
        1,
        9,
        "'{' inside an answer block; write \\{ for a literal brace",
        "答案块内出现“{”；字面的花括号请写作 \\{",
    )


def test_a_second_answer_block() -> None:
    assert_syntax(
        "A {=a} and\nB {=b}.",
        2,
        3,
        "a question has one answer block {…}; write \\{ and \\} for literal braces",
        "一道题只能有一个答案块 {…}；字面的花括号请写作 \\{ 和 \\}",
    )


def test_a_stray_closing_brace_after_the_answer_block() -> None:
    problem = only_problem("A {=a} b}")
    assert (problem.line, problem.col) == (1, 9)


def test_unclosed_title() -> None:
    assert_syntax(
        "// c\n::Title What?{T}",
        2,
        1,
        "the question title opened with '::' is not closed with '::'",
        "以“::”开始的题目标题没有用“::”结束",
    )


def test_matching_answer_without_arrow() -> None:
    assert_syntax(
        "Match.{\n=Canada -> Ottawa\n  =Italy Rome\n}",
        3,
        3,
        "a matching answer needs '->' between the prompt and its match",
        "匹配题的答案需要用“->”连接题干项与其匹配项",
    )


def test_numerical_value_that_is_not_a_number() -> None:
    assert_syntax(
        "Year?{#\n=1822:0\n= %50%about 1820\n}",
        3,
        3,
        "'about 1820' is not a number; numerical answers are written like 1822, "
        "1822:5 (with a tolerance) or 1817..1827 (a range)",
        "“about 1820”不是数字；数值答案的写法如 1822、1822:5（带误差）或 1817..1827（范围）",
    )


def test_numerical_tolerance_that_is_not_a_number() -> None:
    problem = only_problem("Year?{#1822:five}")
    assert (problem.line, problem.col) == (1, 8)
    assert problem.message.startswith("'five' is not a number")


def test_numerical_reversed_range() -> None:
    assert_syntax(
        "Pick.{#5..1}",
        1,
        8,
        "the range 5..1 has its lower end above its upper end",
        "范围 5..1 的下限大于上限",
    )


def test_numerical_negative_tolerance() -> None:
    assert_syntax(
        "Pick.{#5:-1}",
        1,
        8,
        "the tolerance in 5:-1 is negative",
        "5:-1 中的误差范围为负数",
    )


def test_numerical_without_answers() -> None:
    assert_syntax(
        "Pick.{ #  }",
        1,
        8,
        "a numerical question needs at least one answer after '#', such as {#1822:5}",
        "数值题在“#”之后至少需要一个答案，例如 {#1822:5}",
    )


def test_multiple_choice_with_one_answer() -> None:
    assert_syntax(
        "Pick.\n{~only}",
        2,
        1,
        "a multiple-choice question needs at least two answers; this one has 1",
        "选择题至少需要两个答案，本题只有 1 个",
    )


def test_matching_with_one_pair() -> None:
    assert_syntax(
        "Match.{=a -> b}",
        1,
        7,
        "a matching question needs at least two answers; this one has 1",
        "匹配题至少需要两个答案，本题只有 1 个",
    )


def test_empty_answer_after_a_tilde() -> None:
    assert_syntax(
        "Pick.{=a ~ #no text\n~c}",
        1,
        10,
        "the answer after '~' is empty",
        "“~”之后的答案为空",
    )


def test_empty_short_answer_after_an_equals() -> None:
    assert_syntax("Say.{=a =}", 1, 9, "the answer after '=' is empty", "“=”之后的答案为空")


def test_weight_beyond_a_hundred_percent() -> None:
    assert_syntax(
        "Pick.{=a ~ %150%b}",
        1,
        12,
        "answer weight %150% is outside -100%…100%",
        "答案权重 %150% 超出 -100%…100% 的范围",
    )


def test_question_glued_to_its_category_line() -> None:
    assert_syntax(
        "$CATEGORY: $course$/top/Unit 1\n  Q?{T}",
        2,
        3,
        "a $CATEGORY line must be followed by a blank line before the next question",
        "$CATEGORY 行与下一题之间必须空一行",
    )


def test_invalid_utf8_is_reported_on_its_line_and_other_questions_still_load() -> None:
    result = gift.parse(b"Good?{T}\n\nBad \xff here?{T}\n\nAlso good?{F}\n")
    assert [p.item.stem for p in result.items] == ["Good?", "Also good?"]
    [problem] = result.problems
    assert (problem.code, problem.line, problem.col) == ("syntax", 3, 5)
    assert problem.message == (
        "byte 0xff is not UTF-8; save the file as UTF-8 "
        "(the question on this line was not imported)"
    )
    assert problem.message_zh == (
        "字节 0xff 不是 UTF-8 编码；请将文件另存为 UTF-8（此行所在的题目未导入）"
    )


def test_the_parser_continues_after_an_error_with_the_next_question() -> None:
    result = parse("One {=a\n\nTwo?{T}\n\nThree?{#x}\n\nFour?{F}")
    assert [p.item.stem for p in result.items] == ["Two?", "Four?"]
    assert [(p.line, p.col) for p in result.problems] == [(1, 5), (5, 9)]


def test_problems_name_the_source_file() -> None:
    result = gift.parse(b"Bad {=a", source="bank.gift")
    assert result.problems[0].where() == "bank.gift:1:5"
    assert not result.ok


# ------------------------------------------------------------------ decoding and places


def test_bom_and_windows_line_endings() -> None:
    result = gift.parse("\ufeff// c\r\nFirst?{T}\r\n\r\nSecond\r\nline?{F}\r\n".encode())
    assert [(p.item.stem, p.location.line) for p in result.items] == [
        ("First?", 2),
        ("Second\nline?", 4),
    ]


def test_item_location_is_the_first_line_of_the_question_after_comments() -> None:
    result = parse("\n\n// [id:x]\n   ::T::Q?{T}\n")
    assert (result.items[0].location.line, result.items[0].location.col) == (4, 4)


def test_comments_only_and_empty_files_give_nothing() -> None:
    assert parse("// just a comment\n\n   \n") == ParseResult(unread=0)
    assert gift.parse(b"") == ParseResult(unread=0)


# ------------------------------------------------------------------ writing


def round_trip(items: list[Item]) -> list[Item]:
    result = gift.parse(gift.dump(items))
    assert result.problems == ()
    return [p.item for p in result.items]


EXAMPLES = [
    Item(key="tf", stem="Grass is green.", body=TrueFalse(answer=True, feedback_false="No!")),
    Item(key="tf2", stem="Snow is black.", body=TrueFalse(answer=False, feedback_false="Yes")),
    Item(
        key="Grant's {tomb}: #1",
        stem="Grant is _____ in Grant's tomb.",
        body=SingleChoice(options=options(("buried", 0), ("entombed", 1, "Right"), ("x", 0.5))),
        explanation="Grant ~ and = his wife\nare entombed.",
        topic="History/US presidents",
        tags=("history", "easy]ish"),
    ),
    Item(
        key="all right",
        stem="Any?",
        body=SingleChoice(options=options(("a", 1), ("b", 1))),
    ),
    Item(
        key="multi",
        stem="Which are prime?",
        body=MultipleChoice(
            options=options(("2", 0.5), ("3", 0.5), ("4", -1), ("%9", 0)), scoring="partial"
        ),
        topic="History/US presidents",
    ),
    Item(
        key="short",
        stem="中国的首都是？",
        body=FillBlank(
            answers=(
                AcceptedText(text="北京", feedback="对"),
                AcceptedText(text="Beijing", fraction=0.5),
                AcceptedText(text="TRUE", fraction=0.0),
            )
        ),
        topic="地理",
    ),
    Item(
        key="num",
        stem="Pi?",
        body=Numerical(
            answers=(
                NumericAnswer(value=3.14159, tolerance=0.0005, feedback="ok"),
                NumericAnswer(value=3, tolerance=1e-7, fraction=1 / 3),
                NumericAnswer(value=-1e-30, fraction=0.07),
            )
        ),
    ),
    Item(
        key="match",
        stem="[html]Match:",
        body=Matching(
            pairs=(Pair(prompt="[b]Canada", answer="Ottawa -> ON"), Pair(prompt="a#b", answer="c")),
            distractors=("Chat",),
        ),
        explanation="[plain]not a format",
    ),
    Item(key=derive_key("Keyless?"), stem="Keyless?", body=TrueFalse(answer=True)),
]


def test_dump_then_parse_gives_the_same_items() -> None:
    assert round_trip(EXAMPLES) == EXAMPLES


def test_dump_writes_moodle_style_gift() -> None:
    text = gift.dump(EXAMPLES[2:3]).decode()
    assert text == (
        "$CATEGORY: $course$/top/History/US presidents\n\n"
        "// [tag:history] [tag:easy\\]ish]\n"
        "::Grant's \\{tomb\\}\\: \\#1::[markdown]Grant is _____ in Grant's tomb.{\n"
        "\t~buried\n\t=entombed#Right\n\t~%50%x\n"
        "\t####Grant \\~ and \\= his wife\\nare entombed.\n}\n\n"
    )


def test_dump_returns_to_the_top_category_when_the_topic_ends() -> None:
    items = [EXAMPLES[2], EXAMPLES[0]]
    assert "$CATEGORY: $course$/top\n" in gift.dump(items).decode()
    assert round_trip(items) == items


def test_a_true_false_item_without_answer_is_written_so_that_reading_reports_it() -> None:
    item = Item(key="k", stem="Unknown?", body=TrueFalse())
    result = gift.parse(gift.dump([item]))
    assert result.items == ()
    assert [p.code for p in result.problems] == ["unsupported"]


def test_fields_gift_does_not_carry_are_not_read_back() -> None:
    item = Item(key="k", stem="Q?", body=TrueFalse(answer=True), points=3.0, enemy_group="g")
    assert round_trip([item]) == [Item(key="k", stem="Q?", body=TrueFalse(answer=True))]


# ------------------------------------------------------------------ property

_ALPHABET = string.ascii_letters[:6] + " ~=#{}:\\\n[]%-_/中文题答案é"


def _text(*, empty: bool = False, arrow: bool = True) -> st.SearchStrategy[str]:
    def clean(text: str) -> str:
        return text.strip(" \t\n\r\x00\x0b")

    strategy = st.text(alphabet=_ALPHABET, max_size=12).map(clean)
    if not arrow:
        strategy = strategy.filter(lambda t: "->" not in t)
    return strategy if empty else strategy.filter(bool)


_fractions = st.one_of(st.sampled_from([0.0, 1.0, 0.5, -1.0, 1 / 3]), st.floats(-1, 1))


@st.composite
def _options(draw: st.DrawFn, *, single: bool) -> tuple[Option, ...]:
    specs = draw(st.lists(st.tuples(_text(), _fractions, _text(empty=True)), min_size=2))
    if single:
        at = draw(st.integers(0, len(specs) - 1))
        specs[at] = (specs[at][0], 1.0, specs[at][2])
    return options(*specs)


_bodies = st.one_of(
    st.builds(
        TrueFalse,
        answer=st.booleans(),
        feedback_true=_text(empty=True),
        feedback_false=_text(empty=True),
    ),
    _options(single=True).map(lambda o: SingleChoice(options=o)),
    _options(single=False).map(lambda o: MultipleChoice(options=o, scoring="partial")),
    st.lists(
        st.builds(
            AcceptedText,
            text=_text(arrow=False),
            fraction=_fractions,
            feedback=_text(empty=True, arrow=False),
        ),
        min_size=1,
    ).map(lambda a: FillBlank(answers=tuple(a))),
    st.lists(
        st.builds(
            NumericAnswer,
            value=st.floats(allow_nan=False, allow_infinity=False),
            tolerance=st.floats(0, 1e6),
            fraction=_fractions,
            feedback=_text(empty=True),
        ),
        min_size=1,
    ).map(lambda a: Numerical(answers=tuple(a))),
    st.builds(
        lambda pairs, distractors: Matching(pairs=tuple(pairs), distractors=tuple(distractors)),
        st.lists(st.builds(Pair, prompt=_text(arrow=False), answer=_text(empty=True)), min_size=2),
        st.lists(_text(empty=True), max_size=2),
    ),
)

_tag_text = st.text(alphabet=string.ascii_letters[:6] + " -]中[", min_size=1, max_size=8).map(
    str.strip
)

_items = st.builds(
    Item,
    key=_text(),
    stem=_text(empty=True),
    body=_bodies,
    explanation=_text(empty=True),
    topic=st.text(alphabet="ab /:$中", max_size=10).map(str.strip),
    tags=st.lists(_tag_text.filter(bool), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_items, max_size=4))
def test_any_writable_items_read_back_the_same(items: list[Item]) -> None:
    assert round_trip(items) == items


def test_all_or_nothing_multiple_choice_is_written_as_equal_shares_that_lint_clean():
    item = Item(
        key="aon",
        stem="选出所有正确项",
        topic="t",
        body=MultipleChoice(
            options=(
                Option(id="A", text="甲", fraction=1.0),
                Option(id="B", text="乙", fraction=1.0),
                Option(id="C", text="丙", fraction=1.0),
                Option(id="D", text="丁"),
            )
        ),
    )
    text = gift.dump([item]).decode()
    assert "~%33.33333%甲" in text
    assert "~%-33.33333%丁" in text
    (read,) = gift.parse(text.encode()).items
    assert lint_items([ParsedItem(item=read.item, location=Location(line=1))]) == []
    assert score(read.item, ["A", "B", "C"]).fraction == pytest.approx(1.0, abs=1e-6)
    assert score(read.item, ["A", "B", "C", "D"]).fraction == pytest.approx(2 / 3, abs=1e-6)
