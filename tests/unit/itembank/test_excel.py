"""The Excel template: sheets, rows and columns, styling, round trips, damaged files."""

import io
import zipfile
from collections.abc import Sequence

from openpyxl import Workbook, load_workbook

from itembank.formats import ParseResult, csv_table, excel
from itembank.model import Difficulty, Item, MultipleChoice, SingleChoice, Status, TrueFalse


def workbook_bytes(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "难度", "知识点"]


def parse(rows: Sequence[Sequence[object]], sheet: str = "试题") -> ParseResult:
    return excel.parse(workbook_bytes({sheet: [HEADER, *rows]}), source="bank.xlsx")


def test_rows_become_items_located_by_sheet_and_row() -> None:
    result = parse(
        [
            [
                "单选题",
                "中国的首都是？",
                "北京",
                "上海",
                "广州",
                "深圳",
                "A",
                "北京是首都",
                "易",
                "地理",
            ],
            [None, None, None],
            ["多选题", "直辖市有？", "北京", "上海", "广州", "重庆", "A、B、D", None, 0.6, "地理"],
        ]
    )
    assert result.problems == ()
    first, second = result.items
    assert (first.location.sheet, first.location.line) == ("试题", 2)
    assert (second.location.sheet, second.location.line) == ("试题", 4)
    assert isinstance(first.item.body, SingleChoice)
    assert first.item.difficulty == Difficulty(band=1)
    assert isinstance(second.item.body, MultipleChoice)
    assert second.item.difficulty == Difficulty(facility=0.6)


def test_numeric_and_boolean_cells_read_as_typed() -> None:
    result = parse(
        [
            ["判断题", "地球是圆的", None, None, None, None, True, None, 3],
            ["单选题", "1+1=?", 1, 2, 3, None, "B", None, 2.0],
            ["数值题", "3×3=?", None, None, None, None, 9],
        ]
    )
    assert result.problems == ()
    tf, single, number = (p.item for p in result.items)
    assert tf.body == TrueFalse(answer=True)
    assert tf.difficulty == Difficulty(band=3)
    assert isinstance(single.body, SingleChoice)
    assert [o.text for o in single.body.options] == ["1", "2", "3"]
    assert single.difficulty == Difficulty(band=2)
    assert number.body.answers[0].value == 9.0  # type: ignore[union-attr]


def test_more_option_columns_than_the_template_are_read() -> None:
    header = ["题型", "题干", *(f"选项{c}" for c in "ABCDEFGH"), "答案"]
    row = ["单选题", "题", *"一二三四五六七八", "H"]
    result = excel.parse(workbook_bytes({"Sheet1": [header, row]}))
    (parsed,) = result.items
    assert isinstance(parsed.item.body, SingleChoice)
    assert [o.id for o in parsed.item.body.options] == list("ABCDEFGH")
    assert parsed.item.body.options[7].fraction == 1.0


def test_every_template_sheet_is_read_and_an_instructions_sheet_is_skipped() -> None:
    data = workbook_bytes(
        {
            "说明": [["本模板用于导入试题"], ["题型可选：单选题、多选题"]],
            "单选": [HEADER, ["单选题", "题一", "甲", "乙", None, None, "A"]],
            "判断": [HEADER, ["判断题", "题二", None, None, None, None, "错"]],
        }
    )
    result = excel.parse(data)
    assert result.problems == ()
    assert [(p.location.sheet, p.item.stem) for p in result.items] == [
        ("单选", "题一"),
        ("判断", "题二"),
    ]


def test_problems_name_the_sheet_row_and_column_in_both_languages() -> None:
    result = parse(
        [
            ["单选题", "好题", "甲", "乙", None, None, "A"],
            ["问答题", "论述", None, None, None, None, None],
            ["单选题", "坏题", "甲", "乙", None, None, "E"],
        ],
        sheet="第一章",
    )
    assert len(result.items) == 1
    unsupported, bad_answer = result.problems
    assert unsupported.code == "unsupported"
    assert unsupported.message == (
        'column A (题型): item kind "问答题" is not supported; the row was not imported'
    )
    assert unsupported.message_zh == "A 列（题型）：不支持题型“问答题”，该行未导入"
    assert (unsupported.file, unsupported.sheet, unsupported.line, unsupported.col) == (
        "bank.xlsx",
        "第一章",
        3,
        1,
    )
    assert (
        bad_answer.message_zh == "G 列（答案）：答案“E”中的选项 E 为空或不存在（已填写的选项：AB）"
    )
    assert (bad_answer.sheet, bad_answer.line, bad_answer.col) == ("第一章", 4, 7)
    assert bad_answer.where() == "bank.xlsx[第一章]:4:7"


def test_an_unknown_header_is_a_warning_and_a_missing_one_an_error() -> None:
    data = workbook_bytes({"S": [["题型", "题干", "选项A", "备注"], ["单选题", "题", "甲", "x"]]})
    warning, error = excel.parse(data).problems
    assert (warning.severity, warning.message, warning.sheet, warning.col) == (
        "warning",
        'unknown column "备注" (D) was ignored',
        "S",
        4,
    )
    assert error.message == "the header row has no column 答案 (answer); no rows were read"
    assert error.message_zh == "表头缺少必需的列 “答案”，未读取任何行"


def test_a_workbook_without_any_template_sheet_is_reported_on_its_first_sheet() -> None:
    (problem,) = excel.parse(workbook_bytes({"Sheet1": [["a", "b"], [1, 2]]})).problems
    assert problem.sheet == "Sheet1"
    assert problem.message_zh == "前 10 行中没有包含“题型”“题干”“答案”等列名的表头行"


def test_a_file_that_is_not_a_workbook_is_one_clear_problem() -> None:
    (problem,) = excel.parse(b"not a zip file", source="bank.xlsx").problems
    assert problem.code == "syntax"
    assert problem.message == (
        "not an Excel .xlsx workbook, or the file is damaged (BadZipFile: File is not a zip file)"
    )
    assert problem.message_zh == (
        "不是有效的 Excel .xlsx 工作簿，或文件已损坏（BadZipFile: File is not a zip file）"
    )
    assert (problem.file, problem.line) == ("bank.xlsx", 1)


def test_a_zip_that_is_not_a_workbook_is_one_clear_problem() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    (problem,) = excel.parse(buffer.getvalue()).problems
    assert problem.message.startswith("not an Excel .xlsx workbook, or the file is damaged (")


def test_an_old_xls_file_is_refused_with_advice() -> None:
    (problem,) = excel.parse(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100).problems
    assert problem.message == (
        "this is an old binary Excel .xls file; save it as .xlsx (Excel Workbook) and import that"
    )
    assert problem.message_zh == "这是旧版 Excel .xls 文件，请另存为 .xlsx（Excel 工作簿）后再导入"


def sample_items() -> list[Item]:
    text = (
        "题型,题干,选项A,选项B,选项C,选项D,选项E,选项F,选项G,答案,解析,难度,知识点,分值,标签,互斥组,编号,状态\n"
        '单选题,中国的首都是？,北京,上海,广州,深圳,成都,西安,南京,G,解析,较难,地理,2.5,"a,b",g,k1,停用\n'
        "多选题,多选,甲,乙,丙,,,,,AC,,0.35\n"
        "判断题,判断,,,,,,,,对\n"
        "填空题,填空,,,,,,,,北京|北京市\n"
        "数值题,数值,,,,,,,,9.8±0.1|10\n"
        "匹配题,匹配,中国=北京,日本=东京,首尔\n"
    )
    return [p.item for p in csv_table.parse(text.encode()).items]


def test_round_trip_keeps_what_a_row_carries() -> None:
    items = sample_items()
    assert items[0].status == Status.RETIRED
    result = excel.parse(excel.dump(items))
    assert result.problems == ()
    assert [p.item for p in result.items] == items


def test_dump_writes_the_styled_template_with_a_kind_dropdown() -> None:
    book = load_workbook(io.BytesIO(excel.dump(sample_items())))
    sheet = book["试题"]
    header = [cell.value for cell in sheet[1]]
    assert header[:9] == [
        "题型",
        "题干",
        "选项A",
        "选项B",
        "选项C",
        "选项D",
        "选项E",
        "选项F",
        "选项G",
    ]
    assert header[9:] == [
        "答案",
        "解析",
        "难度",
        "知识点",
        "分值",
        "标签",
        "互斥组",
        "编号",
        "状态",
    ]
    assert sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width == 48
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1 == '"单选题,多选题,判断题,填空题,数值题,匹配题"'
    assert "A2" in str(validation.sqref)
    assert sheet["L2"].value == 4  # the difficulty band stays a number
