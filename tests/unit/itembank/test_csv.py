"""The CSV table: the template's columns and rules, encodings, problems with row/col."""

import pytest

from itembank.formats import ParseResult, csv_table
from itembank.formats._table import choice_options
from itembank.model import (
    AcceptedText,
    Difficulty,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Pair,
    SingleChoice,
    Status,
    TrueFalse,
    derive_key,
)
from itembank.problems import Problem

HEADER = "题型,题干,选项A,选项B,选项C,选项D,答案,解析,难度,知识点,分值,标签,互斥组,编号,状态\n"


def parse(rows: str, header: str = HEADER, encoding: str = "utf-8") -> ParseResult:
    return csv_table.parse((header + rows).encode(encoding), source="bank.csv")


def only_item(row: str) -> Item:
    result = parse(row)
    assert result.problems == ()
    (parsed,) = result.items
    return parsed.item


def only_problem(rows: str, header: str = HEADER) -> Problem:
    result = parse(rows, header)
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def test_a_single_choice_row_with_every_column() -> None:
    item = only_item(
        "单选题,中国的首都是？,北京,上海,广州,,A,北京是首都,较易,地理,2,"
        '"地理，首都",capitals,geo-1,草稿\n'
    )
    assert item.key == "geo-1"
    assert item.stem == "中国的首都是？"
    assert isinstance(item.body, SingleChoice)
    assert [(o.id, o.text, o.fraction) for o in item.body.options] == [
        ("A", "北京", 1.0),
        ("B", "上海", 0.0),
        ("C", "广州", 0.0),
    ]
    assert (item.explanation, item.topic, item.difficulty) == (
        "北京是首都",
        "地理",
        Difficulty(band=2),
    )
    assert (item.points, item.tags, item.enemy_group, item.status) == (
        2.0,
        ("地理", "首都"),
        "capitals",
        Status.DRAFT,
    )


@pytest.mark.parametrize("answer", ["ABD", "A,B,D", "A、B、D", "a b d", "ＡＢＤ", "A；B；D"])
def test_multiple_choice_answers_in_every_common_spelling(answer: str) -> None:
    item = only_item(f'多选题,直辖市有？,北京,上海,广州,重庆,"{answer}"\n')
    assert isinstance(item.body, MultipleChoice)
    assert [o.fraction for o in item.body.options] == [1 / 3, 1 / 3, 0.0, 1 / 3]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        *[("对", True), ("正确", True), ("√", True), ("T", True), ("true", True)],
        *[("错", False), ("错误", False), ("×", False), ("F", False), ("FALSE", False)],
        ("", None),
    ],
)
def test_true_false_answers(answer: str, expected: bool | None) -> None:
    assert only_item(f"判断题,地球是圆的,,,,,{answer}\n").body == TrueFalse(answer=expected)


def test_fill_blank_answers_split_on_bars_and_semicolons() -> None:
    item = only_item("填空题,水的化学式是____,,,,,H2O|H₂O；水\n")
    assert item.body == FillBlank(
        answers=(AcceptedText(text="H2O"), AcceptedText(text="H₂O"), AcceptedText(text="水"))
    )


def test_numerical_answers_with_tolerance() -> None:
    item = only_item("数值题,g 约为多少？,,,,,9.8±0.1|10 +- 0.5|３\n")
    assert item.body == Numerical(
        answers=(
            NumericAnswer(value=9.8, tolerance=0.1),
            NumericAnswer(value=10.0, tolerance=0.5),
            NumericAnswer(value=3.0),
        )
    )


def test_matching_pairs_in_option_columns_and_distractors_without_equals() -> None:
    item = only_item("匹配题,连线,中国=北京,日本＝东京,首尔,,\n")
    assert item.body == Matching(
        pairs=(Pair(prompt="中国", answer="北京"), Pair(prompt="日本", answer="东京")),
        distractors=("首尔",),
    )


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1", Difficulty(band=1)),
        ("5", Difficulty(band=5)),
        ("0.65", Difficulty(facility=0.65)),
        ("易", Difficulty(band=1)),
        ("中等", Difficulty(band=3)),
        ("较难", Difficulty(band=4)),
        ("难", Difficulty(band=5)),
        ("", Difficulty()),
    ],
)
def test_difficulty_as_band_facility_or_word(cell: str, expected: Difficulty) -> None:
    assert only_item(f"判断题,题,,,,,对,,{cell}\n").difficulty == expected


@pytest.mark.parametrize("kind", ["单选", "单项选择题", "single", "Single_Choice", "单选题 "])
def test_kind_aliases(kind: str) -> None:
    assert isinstance(only_item(f"{kind},题,甲,乙,,,A\n").body, SingleChoice)


def test_a_row_without_key_gets_one_derived_from_its_stem() -> None:
    assert only_item("判断题,地球是圆的,,,,,对\n").key == derive_key("地球是圆的")


def test_english_headers_and_a_title_row_above_the_header() -> None:
    text = (
        "Bank of questions\n"
        "kind,stem,option_a,option_b,answer,explanation\n"
        "single,Q?,x,y,B,because\n"
    )
    result = csv_table.parse(text.encode())
    assert result.problems == ()
    (parsed,) = result.items
    assert parsed.location.line == 3
    assert parsed.item.explanation == "because"


def test_gb18030_files_from_chinese_excel_are_read() -> None:
    result = parse("判断题,地球是圆的,,,,,对\n", encoding="gb18030")
    assert [p.item.stem for p in result.items] == ["地球是圆的"]


def test_utf16_tab_separated_files_are_read() -> None:
    text = "题型\t题干\t答案\n判断题\t地球是圆的\t对\n"
    result = csv_table.parse(text.encode("utf-16"))
    assert [p.item.stem for p in result.items] == ["地球是圆的"]


def test_rows_carry_their_starting_line_past_multiline_cells() -> None:
    result = parse('判断题,"第一行\n第二行",,,,,对\n判断题,下一题,,,,,错\n')
    assert [p.location.line for p in result.items] == [2, 4]
    assert result.items[0].item.stem == "第一行\n第二行"


def test_blank_rows_are_skipped() -> None:
    assert len(parse(",,,\n\n判断题,题,,,,,对\n").items) == 1


def test_round_trip_keeps_what_a_row_carries() -> None:
    items = [
        Item(
            key="k1",
            stem="中国的首都是？\n请选择",
            body=SingleChoice(options=choice_options([("A", "北京"), ("B", "上海")], ["A"])),
            explanation="解析",
            topic="地理",
            difficulty=Difficulty(band=4),
            tags=("a", "b"),
            enemy_group="g",
            points=1.5,
            status=Status.RETIRED,
        ),
        only_item('多选题,多,甲,乙,丙,,"AC"\n'),
        only_item("判断题,判断,,,,,错,,0.3\n"),
        only_item("填空题,填空,,,,,北京|北京市\n"),
        only_item("数值题,数值,,,,,9.8±0.1\n"),
        only_item("匹配题,匹配,中国=北京,首尔\n"),
    ]
    again = csv_table.parse(csv_table.dump(items))
    assert again.problems == ()
    assert [p.item for p in again.items] == items


def test_dump_writes_utf8_with_bom_and_the_chinese_header() -> None:
    data = csv_table.dump([only_item("判断题,地球是圆的,,,,,对\n")])
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "题型,题干,选项A,选项B,选项C,选项D,选项E,选项F,答案,解析,难度,知识点,分值,标签,互斥组,编号,状态"
    )
    assert lines[1] == f"判断题,地球是圆的,,,,,,,正确,,,,1,,,{derive_key('地球是圆的')},启用"


@pytest.mark.parametrize(
    ("row", "code", "message", "message_zh", "col"),
    [
        (
            "问答题,论述题,,,,,\n",
            "unsupported",
            'column A (题型): item kind "问答题" is not supported; the row was not imported',
            "A 列（题型）：不支持题型“问答题”，该行未导入",
            1,
        ),
        (
            ",没有题型,,,,,A\n",
            "syntax",
            "column A (题型): the kind is empty; the row was not imported",
            "A 列（题型）：题型为空，该行未导入",
            1,
        ),
        (
            "单选题,题,甲,乙,,,E\n",
            "syntax",
            'column G (答案): answer "E" names option E, which is empty or missing '
            "(filled options: AB)",
            "G 列（答案）：答案“E”中的选项 E 为空或不存在（已填写的选项：AB）",
            7,
        ),
        (
            "判断题,题,,,,,大概\n",
            "syntax",
            'column G (答案): true/false answer "大概" is not one of 对/错, 正确/错误, √/×, T/F, '
            "true/false",
            "G 列（答案）：判断题答案“大概”无效：应为 对/错、正确/错误、√/×、T/F、true/false 之一",
            7,
        ),
        (
            "数值题,题,,,,,约十\n",
            "syntax",
            'column G (答案): numerical answer "约十" is not a number with an optional '
            "±tolerance (e.g. 9.8±0.1)",
            "G 列（答案）：数值题答案“约十”无效：应为数字，可带 ±误差（如 9.8±0.1）",
            7,
        ),
        (
            "判断题,题,,,,,对,,很难\n",
            "syntax",
            'column I (难度): difficulty "很难" is not a band 1–5, a facility 0–1 or one of '
            "易/较易/中等/较难/难",
            "I 列（难度）：难度“很难”无效："
            "应为 1–5 的等级、0–1 的通过率或 易/较易/中等/较难/难 之一",
            9,
        ),
        (
            "判断题,题,,,,,对,,,,两分\n",
            "syntax",
            'column K (分值): points "两分" is not a number',
            "K 列（分值）：分值“两分”不是数字",
            11,
        ),
        (
            "判断题,题,,,,,对,,,,,,,,删除\n",
            "syntax",
            'column O (状态): status "删除" is not one of draft/active/retired (草稿/启用/停用)',
            "O 列（状态）：状态“删除”无效：应为 草稿/启用/停用（draft/active/retired）之一",
            15,
        ),
    ],
)
def test_bad_cells_are_reported_at_row_and_column_in_both_languages(
    row: str, code: str, message: str, message_zh: str, col: int
) -> None:
    result = parse("判断题,好题,,,,,对\n" + row)
    assert len(result.items) == 1
    (problem,) = result.problems
    assert (problem.code, problem.message, problem.message_zh) == (code, message, message_zh)
    assert (problem.line, problem.col, problem.sheet, problem.file) == (3, col, "", "bank.csv")


def test_an_unknown_column_is_a_warning_naming_it() -> None:
    problem = only_problem("判断题,题,对,x\n", header="题型,题干,答案,备注\n")
    assert (problem.severity, problem.code) == ("warning", "unsupported-part")
    assert problem.message == 'unknown column "备注" (D) was ignored'
    assert problem.message_zh == "未知列“备注”（D 列）已忽略"
    assert (problem.line, problem.col) == (1, 4)


def test_a_repeated_column_is_a_warning_and_the_first_one_counts() -> None:
    result = parse("判断题,题一,题二,对\n", header="题型,题干,stem,答案\n")
    assert [p.item.stem for p in result.items] == ["题一"]
    (problem,) = result.problems
    assert problem.message == 'column "stem" (C) repeats an earlier column and was ignored'
    assert problem.message_zh == "列“stem”（C 列）与前面的列重复，已忽略"


def test_a_missing_required_column_is_an_error_naming_it() -> None:
    problem = only_problem("判断题,题\n", header="题型,题干,解析\n")
    assert problem.severity == "error"
    assert problem.message == "the header row has no column 答案 (answer); no rows were read"
    assert problem.message_zh == "表头缺少必需的列 “答案”，未读取任何行"
    assert problem.line == 1


def test_a_file_without_a_header_row_is_one_problem() -> None:
    problem = only_problem("1,2,3\n", header="a,b,c\n")
    assert problem.message == (
        "no header row naming the columns 题型 (kind), 题干 (stem) and 答案 (answer) in the "
        "first 10 rows"
    )
    assert problem.message_zh == "前 10 行中没有包含“题型”“题干”“答案”等列名的表头行"


def test_an_undecodable_file_is_one_problem() -> None:
    result = csv_table.parse(b"\x81\x20\xff", source="bank.csv")
    (problem,) = result.problems
    assert (
        problem.message
        == "the file is neither UTF-8, GB18030 nor UTF-16 text; save it as CSV UTF-8"
    )
    assert problem.message_zh == "文件编码不是 UTF-8、GB18030 或 UTF-16，请另存为“CSV UTF-8”格式"
