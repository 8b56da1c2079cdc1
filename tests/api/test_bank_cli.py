"""``examengine bank …`` and ``examengine demo load`` as a course team runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli.main import main

GOOD = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~60 学时 ~30 学时}

::law-2:: 公需科目学时可以完全替代专业科目学时。{FALSE}
"""
BAD = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~90 学时 ~30 学时}

::law-2:: 未闭合的答案块 {=甲 ~乙
"""


@pytest.fixture
def env(migrated_cli_env: dict[str, str]) -> dict[str, str]:
    return migrated_cli_env


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_lint_prints_file_line_col_code_message_and_exits_1_on_errors(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.gift", BAD)
    result = CliRunner().invoke(main, ["bank", "lint", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:1: error duplicate-option options A and B read the same: '90 学时'" in (
        result.stdout
    )
    assert f"{bad}:5:" in result.stdout
    # the unclosed question is no item, but it is a question of the file
    assert f"{bad}: 2 items (1 not read), 2 errors, 0 warnings" in result.stderr


def test_lint_speaks_chinese_when_asked(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.gift", BAD)
    result = CliRunner().invoke(main, ["bank", "lint", "--lang", "zh", str(bad)])
    assert f"{bad}:3:1: 错误 duplicate-option 选项 A 与 B 内容相同：'90 学时'" in result.stdout
    assert " error " not in result.stdout
    assert result.stderr.strip() == f"{bad}：2 道试题（1 道未能读取），2 个错误，0 个警告"


def test_lint_in_chinese_names_a_choice_question_without_a_key_for_what_it_is(
    tmp_path: Path,
) -> None:
    # No "=" and no weight: Moodle reads it as a multiple response; it is no 多选题.
    path = write(tmp_path, "nokey.gift", "::q1:: 首都是？{~北京 ~上海}\n")
    zh = CliRunner().invoke(main, ["bank", "lint", "--lang", "zh", str(path)])
    assert "错误 missing-key 选择题没有正确答案" in zh.stdout
    assert "多选题" not in zh.stdout
    assert "警告 empty-topic" in zh.stdout
    assert zh.stderr.strip() == f"{path}：1 道试题，1 个错误，1 个警告"
    en = CliRunner().invoke(main, ["bank", "lint", str(path)])
    assert "error missing-key choice question has no key" in en.stdout
    assert en.stderr.strip() == f"{path}: 1 item, 1 error, 1 warning"


def test_lint_of_a_clean_file_exits_0(tmp_path: Path) -> None:
    good = write(tmp_path, "good.gift", GOOD)
    result = CliRunner().invoke(main, ["bank", "lint", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 items, 0 errors" in result.stderr


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.xlsx", b"this is not a spreadsheet"),
        ("broken.xml", b"<quiz><question type='multichoice'>"),
        ("broken.json", b'{"format": "examengine-bank", "items": [{"kind": 3'),
        ("broken.gift", b"\xff\xfe\x00garbage{{{"),
        ("broken.zip", b"PK\x03\x04 not really a zip"),
    ],
)
def test_a_malformed_file_is_reported_never_a_traceback(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = write(tmp_path, name, data)
    result = CliRunner().invoke(main, ["bank", "lint", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"{path}:" in result.stdout
    assert " error " in result.stdout


def test_a_file_of_unknown_type_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "bank.docx", b"x")
    result = CliRunner().invoke(main, ["bank", "lint", str(path)])
    assert result.exit_code == 2
    assert "cannot tell the format of" in result.stderr


def test_import_refuses_a_file_with_errors_and_stores_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    bad = write(tmp_path, "bad.gift", BAD)
    runner = CliRunner()
    result = runner.invoke(main, ["bank", "import", str(bad), "--bank", "公需"], env=env)
    assert result.exit_code == 2
    assert "2 error(s); nothing was imported" in result.stderr
    listed = runner.invoke(main, ["bank", "list"], env=env)
    assert "公需" not in listed.stdout


def test_import_publish_edit_free_export_diff_and_convert(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    good = write(tmp_path, "good.gift", GOOD)
    imported = runner.invoke(
        main, ["bank", "import", str(good), "--bank", "公需", "--publish"], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "2 items imported as 公需 v1 (published)" in imported.stdout
    again = runner.invoke(main, ["bank", "import", str(good), "--bank", "公需"], env=env)
    assert "unchanged" in again.stdout
    in_zh = runner.invoke(
        main, ["bank", "import", str(good), "--bank", "公需", "--lang", "zh"], env=env
    )
    assert f"{good}：2 道试题与该版本相同，未创建新版本：公需 第 1 版（已发布）" in in_zh.stdout

    changed = write(tmp_path, "changed.gift", GOOD.replace("{FALSE}", "{TRUE}"))
    second = runner.invoke(main, ["bank", "import", str(changed), "--bank", "公需"], env=env)
    assert "v2 (draft)" in second.stdout
    diff = runner.invoke(main, ["bank", "diff", "--bank", "公需", "1", "2"], env=env)
    assert diff.stdout.splitlines() == ["~ law-2: body"]

    out = tmp_path / "out.xlsx"
    exported = runner.invoke(
        main,
        ["bank", "export", "--bank", "公需", "--version", "1", "--format", "excel", "-o", str(out)],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    assert exported.stderr == ""  # the template carries everything these items have
    relinted = runner.invoke(main, ["bank", "lint", str(out)])
    assert relinted.exit_code == 0, relinted.output

    aiken = tmp_path / "out.txt"
    lossy = runner.invoke(
        main,
        ["bank", "export", "--bank", "公需", "--format", "aiken", "-o", str(aiken), "--lang", "zh"],
        env=env,
    )
    assert lossy.exit_code == 0, lossy.output
    assert "警告 export-loss 试题 'law-1'：Aiken 格式无法保存其编号、知识点" in lossy.stderr
    assert "警告 export-dropped 试题 'law-2'（判断题）无法以 Aiken 格式导出，已略去" in lossy.stderr

    converted = runner.invoke(main, ["bank", "convert", str(good), str(tmp_path / "b.yaml")])
    assert "2 items as native" in converted.stdout
    assert converted.stderr == ""  # the native format loses nothing
    to_aiken = runner.invoke(main, ["bank", "convert", str(good), str(tmp_path / "b.aiken")])
    assert "warning export-dropped item 'law-2' (true/false) cannot be written in Aiken" in (
        to_aiken.stderr
    )
    assert "专业技术人员" in (tmp_path / "b.yaml").read_text(encoding="utf-8")


def test_an_unknown_bank_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["bank", "diff", "--bank", "无此题库", "1", "2"], env=env)
    assert result.exit_code == 2
    assert "there is no bank '无此题库'" in result.stderr


def test_stats_prints_a_table_even_before_any_response(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "load"], env=env).exit_code == 0
    result = runner.invoke(main, ["bank", "stats", "--bank", "公需科目-演示题库"], env=env)
    assert result.exit_code == 0, result.output
    assert "law-001" in result.stdout
    assert "learners 0" in result.stdout


def test_demo_load_is_idempotent(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "load"], env=env)
    assert "bank 公需科目-演示题库 v1 (31 items)" in first.stdout
    second = runner.invoke(main, ["demo", "load"], env=env)
    assert "demo data already loaded" in second.stdout


def test_demo_data_with_published_passwords_is_refused_in_production(
    env: dict[str, str],
) -> None:
    production = {
        **env,
        "EXAMENGINE_ENV": "production",
        "EXAMENGINE_SECRET_KEY": "s" * 64,
        "EXAMENGINE_PAPER_SECRET": "p" * 64,
        "EXAMENGINE_SIGNING_SECRET": "g" * 64,
    }
    for command in (["demo", "load"], ["demo", "learners", "3"]):
        result = CliRunner().invoke(main, command, env=production)
        assert result.exit_code == 1
        assert "refused in production" in result.output
        assert "生产环境不允许" in result.output
    # Nothing was made: the demo bank is unknown afterwards.
    stats = CliRunner().invoke(main, ["bank", "stats", "--bank", "公需科目-演示题库"], env=env)
    assert stats.exit_code == 2


def test_convert_refuses_a_file_with_errors_in_either_language(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.gift", BAD)
    en = CliRunner().invoke(main, ["bank", "convert", str(bad), str(tmp_path / "b.yaml")])
    assert en.exit_code == 2
    assert f"{bad}: 2 errors; nothing was written" in en.stderr
    zh = CliRunner().invoke(
        main, ["bank", "convert", str(bad), str(tmp_path / "b.yaml"), "--lang", "zh"]
    )
    assert f"{bad}：2 个错误，未写入任何文件" in zh.stderr
    assert "错误 duplicate-option 选项 A 与 B 内容相同" in zh.stdout
    assert not (tmp_path / "b.yaml").exists()
