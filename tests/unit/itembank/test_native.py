"""The native YAML/JSON bank file: shape, round trips, lines and problems."""

import json

import pytest

from itembank.formats import ParseResult, native
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
    Status,
    TrueFalse,
)
from itembank.problems import Problem

ITEMS = [
    Item(
        key="geo-1",
        stem="中国的首都是哪座城市？\n（单选）",
        body=SingleChoice(
            options=(
                Option(id="A", text="北京", fraction=1.0, feedback="正确"),
                Option(id="B", text="上海"),
                Option(id="X", text="以上都不对", fixed=True),
            )
        ),
        explanation="北京是中华人民共和国的首都。",
        topic="地理",
        difficulty=Difficulty(band=2, facility=0.8, irt_a=1.1, irt_b=-0.5),
        tags=("地理", "首都"),
        enemy_group="capitals",
        points=2.5,
        status=Status.DRAFT,
    ),
    Item(
        key="geo-2",
        stem="哪些城市是直辖市？",
        body=MultipleChoice(
            options=(
                Option(id="A", text="北京", fraction=0.5),
                Option(id="B", text="上海", fraction=0.5),
                Option(id="C", text="广州", fraction=-0.25),
            ),
            scoring="partial",
        ),
    ),
    Item(key="tf", stem="地球是圆的。", body=TrueFalse(answer=False, feedback_true="再想想")),
    Item(
        key="fb",
        stem="水的化学式是____。",
        body=FillBlank(
            answers=(AcceptedText(text="H2O"), AcceptedText(text="h2o", fraction=0.5)),
            case_sensitive=True,
        ),
    ),
    Item(
        key="num",
        stem="重力加速度约为多少 m/s²？",
        body=Numerical(
            answers=(NumericAnswer(value=9.8, tolerance=0.1), NumericAnswer(value=10.0))
        ),
    ),
    Item(
        key="match",
        stem="把国家和首都连起来。",
        body=Matching(
            pairs=(Pair(prompt="中国", answer="北京"), Pair(prompt="日本", answer="东京")),
            distractors=("首尔",),
        ),
    ),
]


def items_of(result: ParseResult) -> list[Item]:
    return [parsed.item for parsed in result.items]


def only_problem(data: bytes, source: str = "bank.yaml") -> Problem:
    result = native.parse(data, source=source)
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def test_yaml_round_trip_keeps_every_field_of_every_kind() -> None:
    result = native.parse(native.dump(ITEMS, bank="地理"), source="bank.yaml")
    assert result.problems == ()
    assert items_of(result) == ITEMS


def test_json_round_trip_keeps_every_field_of_every_kind() -> None:
    result = native.parse(native.dump_json(ITEMS, bank="地理"), source="bank.json")
    assert result.problems == ()
    assert items_of(result) == ITEMS


def test_json_is_recognised_by_its_brace_when_the_source_has_no_extension() -> None:
    assert items_of(native.parse(native.dump_json(ITEMS))) == ITEMS


def test_dump_writes_the_documented_header_and_friendly_options() -> None:
    text = native.dump(ITEMS[:1], bank="地理").decode()
    assert text.startswith(
        "format: examengine-bank\nversion: 1\nbank: 地理\nitems:\n- kind: single\n"
    )
    assert "  stem: |-\n    中国的首都是哪座城市？\n    （单选）\n" in text
    assert "  - text: 北京\n    correct: true\n    feedback: 正确\n" in text
    assert "fraction" not in text


def test_hand_written_yaml_uses_defaults_and_correct_flags() -> None:
    data = """
format: examengine-bank
version: 1
bank: 语文
items:
  - kind: single
    key: yw-1
    stem: 《红楼梦》的作者是？
    options:
      - {text: 曹雪芹, correct: true}
      - {text: 罗贯中}
  - kind: multiple
    key: yw-2
    stem: 下列哪些是四大名著？
    options:
      - {text: 红楼梦, correct: true}
      - {text: 西游记, correct: true}
      - {text: 聊斋志异}
      - {text: 水浒传, correct: true}
  - kind: fill_blank
    key: yw-3
    stem: 床前明月光，____。
    answers: [疑是地上霜, {text: 疑是地上霜。, fraction: 0.5}]
  - kind: numerical
    key: yw-4
    stem: 一年有几个月？
    answers: [12]
""".encode()
    result = native.parse(data, source="bank.yaml")
    assert result.problems == ()
    first, second, third, fourth = items_of(result)
    assert first == Item(
        key="yw-1",
        stem="《红楼梦》的作者是？",
        body=SingleChoice(
            options=(Option(id="A", text="曹雪芹", fraction=1.0), Option(id="B", text="罗贯中"))
        ),
    )
    assert isinstance(second.body, MultipleChoice)
    assert [o.fraction for o in second.body.options] == [1 / 3, 1 / 3, 0.0, 1 / 3]
    assert third.body == FillBlank(
        answers=(AcceptedText(text="疑是地上霜"), AcceptedText(text="疑是地上霜。", fraction=0.5))
    )
    assert fourth.body == Numerical(answers=(NumericAnswer(value=12.0),))


def test_items_without_key_or_stem_are_built_as_written_for_the_lint() -> None:
    data = b"format: examengine-bank\nitems:\n  - kind: true_false\n"
    assert items_of(native.parse(data)) == [Item(key="", stem="", body=TrueFalse())]


def test_yaml_items_carry_the_line_where_they_start() -> None:
    result = native.parse(native.dump(ITEMS), source="bank.yaml")
    text = native.dump(ITEMS).decode().splitlines()
    for parsed in result.items:
        assert text[parsed.location.line - 1] == "- kind: " + parsed.item.kind.value


def test_json_items_carry_the_line_where_they_start() -> None:
    data = native.dump_json(ITEMS)
    lines = data.decode().splitlines()
    result = native.parse(data, source="bank.json")
    for parsed in result.items:
        assert lines[parsed.location.line - 1].strip() == "{"
        assert f'"key": "{parsed.item.key}"' in lines[parsed.location.line + 1]


BAD_TYPE_YAML = """format: examengine-bank
items:
  - kind: single
    key: a
    stem: 好题
  - kind: single
    key: b
    stem: 坏题
    options:
      - text: 北京
      - text: 42
  - kind: true_false
    key: c
""".encode()


def test_a_wrongly_typed_yaml_field_is_reported_at_its_line_and_the_rest_is_read() -> None:
    result = native.parse(BAD_TYPE_YAML, source="bank.yaml")
    assert [p.item.key for p in result.items] == ["a", "c"]
    (problem,) = result.problems
    assert problem.code == "syntax"
    assert problem.message == "items[1].options[1].text (item at line 6): Expected `str`, got `int`"
    assert (
        problem.message_zh == "items[1].options[1].text（第 6 行的试题）：应为 str 类型，实际为 int"
    )
    assert (problem.line, problem.col, problem.file) == (11, 15, "bank.yaml")
    assert problem.item_key == "b"


def test_a_wrongly_typed_json_field_is_reported_at_its_items_line() -> None:
    data = b"""{"format": "examengine-bank",
 "items": [
  {"kind": "true_false", "key": "a"},
  {"kind": "true_false",
   "key": "b", "answer": "yes"}
 ]}"""
    result = native.parse(data, source="bank.json")
    assert [p.item.key for p in result.items] == ["a"]
    (problem,) = result.problems
    assert problem.message == "items[1].answer (item at line 4): Expected `bool | null`, got `str`"
    assert (
        problem.message_zh == "items[1].answer（第 4 行的试题）：应为 bool | null 类型，实际为 str"
    )
    assert (problem.line, problem.col) == (4, 1)


@pytest.mark.parametrize(
    ("item", "message", "message_zh", "line"),
    [
        (
            "  - kind: single\n    colour: red\n",
            "items[0] (item at line 3): Object contains unknown field `colour`",
            "items[0]（第 3 行的试题）：含有未知字段 colour",
            3,
        ),
        (
            "  - stem: 无题型\n",
            "items[0] (item at line 3): Object missing required field `kind`",
            "items[0]（第 3 行的试题）：缺少必填字段 kind",
            3,
        ),
        (
            "  - kind: multiple\n    scoring: some\n",
            "items[0].scoring (item at line 3): Invalid enum value 'some'",
            "items[0].scoring（第 3 行的试题）：取值 'some' 无效",
            4,
        ),
        (
            "  - kind: single\n    options:\n      - correct: true\n",
            "items[0].options[0] (item at line 3): Object missing required field `text`",
            "items[0].options[0]（第 3 行的试题）：缺少必填字段 text",
            5,
        ),
        (
            "  - 42\n",
            "items[0] (item at line 3): Expected `object`, got `int`",
            "items[0]（第 3 行的试题）：应为 object 类型，实际为 int",
            3,
        ),
    ],
)
def test_shape_errors_name_the_field_path_in_both_languages(
    item: str, message: str, message_zh: str, line: int
) -> None:
    data = f"format: examengine-bank\nitems:\n{item}".encode()
    problem = only_problem(data)
    assert (problem.code, problem.message, problem.message_zh) == ("syntax", message, message_zh)
    assert problem.line == line


def test_an_unknown_kind_is_unsupported_not_dropped() -> None:
    data = "format: examengine-bank\nitems:\n  - kind: essay\n    key: e1\n    stem: 论述\n"
    problem = only_problem(data.encode())
    assert problem.code == "unsupported"
    assert problem.message == 'item kind "essay" is not supported; the item was not imported'
    assert problem.message_zh == "不支持题型“essay”，该题未导入"
    assert (problem.line, problem.col, problem.item_key) == (3, 11, "e1")


def test_a_yaml_syntax_error_is_reported_with_yamls_line_and_column() -> None:
    data = b"format: examengine-bank\nitems:\n  - kind: single\n   stem: [\n"
    problem = only_problem(data)
    assert problem.code == "syntax"
    assert problem.message.startswith("YAML syntax error: ")
    assert problem.message_zh.startswith("YAML 语法错误：")
    assert (problem.line, problem.col) == (4, 4)


def test_a_json_syntax_error_is_reported_at_its_line_and_column() -> None:
    data = b'{"format": "examengine-bank",\n "items": [1,]}'
    problem = only_problem(data, source="bank.json")
    assert (
        problem.message == "JSON syntax error: JSON is malformed: trailing comma in array (byte 43)"
    )
    assert problem.message_zh == "JSON 语法错误：末尾多了逗号（第 43 字节）"
    assert (problem.line, problem.col) == (2, 14)


def test_a_wrong_format_name_is_reported_and_the_items_still_read() -> None:
    data = b"format: moodle\nitems:\n  - kind: true_false\n"
    result = native.parse(data)
    assert len(result.items) == 1
    (problem,) = result.problems
    assert problem.message == (
        "format: Invalid enum value 'moodle' (a bank file starts with format: examengine-bank)"
    )
    assert (
        problem.message_zh
        == "format：取值 'moodle' 无效（题库文件应以 format: examengine-bank 开头）"
    )
    assert (problem.line, problem.col) == (1, 9)


def test_a_missing_format_is_reported() -> None:
    problem = only_problem(b"items: []\n")
    assert problem.message == (
        "file: Object missing required field `format` (a bank file starts with format: "
        "examengine-bank)"
    )
    assert (
        problem.message_zh
        == "file：缺少必填字段 format（题库文件应以 format: examengine-bank 开头）"
    )


def test_items_that_are_not_a_list_are_reported() -> None:
    problem = only_problem(b"format: examengine-bank\nitems:\n  kind: single\n")
    assert (problem.message, problem.message_zh) == (
        "items: expected a list of items",
        "items：应为试题列表",
    )
    assert (problem.line, problem.col) == (3, 3)


def test_a_file_that_is_not_a_mapping_is_reported() -> None:
    problem = only_problem(b"- a\n- b\n")
    assert (
        problem.message
        == "a bank file is a mapping with format: examengine-bank, version and items"
    )
    assert problem.message_zh == "题库文件应为包含 format: examengine-bank、version 和 items 的映射"


def test_an_empty_file_is_reported() -> None:
    problem = only_problem(b"")
    assert (problem.message, problem.message_zh, problem.line) == (
        "the file is empty",
        "文件为空",
        1,
    )


def test_the_committed_json_schema_is_the_generated_one() -> None:
    committed = json.loads(native.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == native.json_schema(), (
        "regenerate: python -c 'from itembank.formats import native; native.write_json_schema()'"
    )


def test_the_schema_describes_each_kind_by_its_kind_tag() -> None:
    defs = native.json_schema()["$defs"]
    assert defs["SingleEntry"]["properties"]["kind"] == {"enum": ["single"]}
    assert defs["OptionEntry"]["required"] == ["text"]


@pytest.mark.parametrize(
    ("name", "data", "zh"),
    [
        (
            "a.yaml",
            "format: examengine-bank\nitems: [1\n",
            "读取 [ ] 列表时，缺少应有的 ',' 或 ']'",
        ),
        ("b.yaml", "format: examengine-bank\nitems:\n\t- kind: single\n", "此处有不能出现的字符"),
        ("c.yaml", "format: examengine-bank\nitems:\n  - stem: a: b\n", "此处不能出现“键: 值”"),
        ("d.json", '{"format": "examengine-bank", "items": [1,', "文件在中途结束"),
        ("e.json", '{"format": "examengine-bank", "items": [1,]}', "末尾多了逗号（第 42 字节）"),
    ],
)
def test_yaml_and_json_syntax_errors_read_in_chinese(name: str, data: str, zh: str) -> None:
    (problem,) = native.parse(data.encode(), source=name).problems
    assert zh in problem.message_zh
    assert problem.message_zh.isascii() is False
    assert "while" not in problem.message_zh and "expected" not in problem.message_zh
