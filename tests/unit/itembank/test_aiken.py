"""Moodle's Aiken format, with the Chinese punctuation extension."""

import pytest

from itembank.formats import aiken
from itembank.formats._table import choice_options
from itembank.model import Item, MultipleChoice, SingleChoice, TrueFalse, derive_key
from itembank.problems import Problem

GOOD = """中国的首都是哪座城市？
A. 北京
B) 上海
C. 广州
ANSWER: A

《红楼梦》的作者是
哪一位？

A、曹雪芹
Ｂ．罗贯中
C）施耐庵
答案：Ｂ
"""


def only_problem(text: str) -> Problem:
    result = aiken.parse(text.encode(), source="q.txt")
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def test_questions_options_and_answers_become_single_choice_items_keyed_by_stem() -> None:
    result = aiken.parse(GOOD.encode())
    assert result.problems == ()
    first, second = (parsed.item for parsed in result.items)
    assert first == Item(
        key=derive_key("中国的首都是哪座城市？"),
        stem="中国的首都是哪座城市？",
        body=SingleChoice(
            options=choice_options([("A", "北京"), ("B", "上海"), ("C", "广州")], ["A"])
        ),
    )
    assert second.stem == "《红楼梦》的作者是\n哪一位？"
    assert isinstance(second.body, SingleChoice)
    assert [(o.id, o.text, o.fraction) for o in second.body.options] == [
        ("A", "曹雪芹", 0.0),
        ("B", "罗贯中", 1.0),
        ("C", "施耐庵", 0.0),
    ]


def test_items_carry_the_line_of_their_first_question_line() -> None:
    result = aiken.parse(GOOD.encode())
    assert [parsed.location.line for parsed in result.items] == [1, 7]


def test_a_utf8_bom_and_crlf_line_ends_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode()
    assert len(aiken.parse(data).items) == 2


def test_round_trip_keeps_stem_and_options() -> None:
    items = [parsed.item for parsed in aiken.parse(GOOD.encode()).items]
    again = aiken.parse(aiken.dump(items))
    assert again.problems == ()
    assert [parsed.item for parsed in again.items] == items


def test_dump_writes_moodle_syntax() -> None:
    items = [parsed.item for parsed in aiken.parse(GOOD.encode()).items]
    assert (
        aiken.dump(items[:1]).decode()
        == "中国的首都是哪座城市？\nA. 北京\nB. 上海\nC. 广州\nANSWER: A\n"
    )


def test_dump_leaves_out_what_aiken_cannot_write() -> None:
    options = choice_options([("A", "甲"), ("B", "乙")], ["A", "B"])
    items = [
        Item(key="tf", stem="判断", body=TrueFalse(answer=True)),
        Item(key="m", stem="多选", body=MultipleChoice(options=options)),
        Item(key="two", stem="两个正确", body=SingleChoice(options=options)),
        Item(key="looks", stem="A. 像选项的题干", body=SingleChoice(options=options[:1])),
    ]
    assert aiken.dump(items) == b""


@pytest.mark.parametrize(
    ("text", "message", "message_zh", "line", "col"),
    [
        (
            "题目\nA. 甲\nB. 乙\n",
            "the question has no ANSWER line (e.g. ANSWER: B) before the next question or the "
            "end of the file",
            "该题在下一题或文件结束之前缺少答案行（如 ANSWER: B）",
            1,
            1,
        ),
        (
            "题目\nA. 甲\nANSWER: C\n",
            'ANSWER "C" is not one of the options (A)',
            "答案“C”不在选项（A）之中",
            3,
            9,
        ),
        (
            "A. 甲\nB. 乙\nANSWER: A\n",
            "option line before any question text",
            "选项行之前没有题干",
            1,
            1,
        ),
        ("题目\nANSWER: A\n", "ANSWER line without options before it", "答案行之前没有选项", 2, 1),
        (
            "题目\nA. 甲\nB. 乙\nANSWER: AB\n",
            'ANSWER "AB" must be one letter: Aiken items have a single answer',
            "答案“AB”应为单个字母：Aiken 格式只支持单选题",
            4,
            9,
        ),
        ("题目\nA. 甲\nANSWER:\n", "ANSWER line names no option", "答案行没有给出选项字母", 3, 8),
    ],
)
def test_bad_input_is_reported_with_its_line_in_both_languages(
    text: str, message: str, message_zh: str, line: int, col: int
) -> None:
    problem = only_problem(text)
    assert (problem.code, problem.message, problem.message_zh) == ("syntax", message, message_zh)
    assert (problem.line, problem.col, problem.file) == (line, col, "q.txt")


def test_a_question_without_answer_does_not_swallow_the_next_one() -> None:
    text = "第一题\nA. 甲\nB. 乙\n第二题\nA. 丙\nB. 丁\nANSWER: B\n"
    result = aiken.parse(text.encode())
    assert [p.line for p in result.problems] == [1]
    assert [(p.item.stem, p.location.line) for p in result.items] == [("第二题", 4)]


def test_reading_resumes_after_a_stray_option_block() -> None:
    text = "A. 甲\nB. 乙\nANSWER: A\n\n下一题\nA. 丙\nANSWER: A\n"
    result = aiken.parse(text.encode())
    assert len(result.problems) == 1
    assert [p.item.stem for p in result.items] == ["下一题"]


def test_a_file_that_is_not_utf8_is_one_problem() -> None:
    result = aiken.parse("题目\nA. 甲\nANSWER: A\n".encode("gb18030"))
    (problem,) = result.problems
    assert problem.message == "the file is not UTF-8 text; save it as UTF-8"
    assert problem.message_zh == "文件不是 UTF-8 编码的文本，请另存为 UTF-8"
    assert problem.line == 1
