"""``examengine exam …`` and ``examengine paper …`` as a course team and an operator run
them: check and publish specs, build and preassemble papers, audit a stored paper."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli.demo import DEMO_BANK, DEMO_DIR, DEMO_EXAM
from api.cli.main import main
from api.services import exams
from api.settings import DatabaseSettings, Settings
from api.store.db import make_engine, standalone_transaction
from api.store.tables import User

SPEC = f"""key: 公需-2026
title: 公需科目考试
bank: {DEMO_BANK}
bank_version: 1
sections:
  - title: 单选
    kind: single
    count: 6
  - title: 判断
    kind: true_false
    count: 5
"""
LEARNER = "11010519491231002X"


@pytest.fixture
def env(migrated_cli_env: dict[str, str]) -> dict[str, str]:
    """A migrated database holding the demo bank, published."""
    values = {**migrated_cli_env, "EXAMENGINE_PAPER_SECRET": "cli-test-paper-secret-" + "s" * 32}
    runner = CliRunner()
    bank = str(DEMO_DIR / "bank.yaml")
    imported = runner.invoke(
        main, ["bank", "import", bank, "--bank", DEMO_BANK, "--publish"], env=values
    )
    assert imported.exit_code == 0, imported.output
    return values


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_of_a_good_spec_exits_0(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["exam", "validate", str(write(tmp_path, "spec.yaml", SPEC))], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "0 errors, 0 warnings" in result.stderr


def test_validate_prints_where_and_message_and_exits_1(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "spec.yaml", SPEC.replace("count: 6", "count: 30"))
    result = CliRunner().invoke(main, ["exam", "validate", str(path)], env=env)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "section 1: section 1 (单选) asks for 30 single items, the bank has 11"
    ]
    chinese = CliRunner().invoke(main, ["exam", "validate", "--lang", "zh", str(path)], env=env)
    assert "第 1 大题（单选）需要 30 道单选试题，题库中只有 11 道" in chinese.stdout


def test_validate_marks_warnings_and_still_exits_0(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "spec.yaml", SPEC.replace("count: 5", "count: 4"))
    result = CliRunner().invoke(main, ["exam", "validate", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "section 2, topic '" in result.stdout
    assert ": warning: section 2 (判断): topic" in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("spec.yaml", SPEC.replace("count: 6", "count: many"), "`$.sections[0].count`"),
        ("spec.yaml", SPEC + "colour: red\n", "unknown field `colour`"),
        ("spec.yaml", SPEC.replace("title: 单选", "title: [单选"), "not valid YAML"),
        ("spec.json", '{"key": "x", "title": ', "not valid JSON"),
        ("spec.yaml", SPEC.replace("bank_version: 1\n", ""), "missing required field"),
    ],
)
def test_a_malformed_spec_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, env: dict[str, str], name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    result = CliRunner().invoke(main, ["exam", "validate", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: ")
    assert message in lines[0]


def test_a_missing_spec_file_is_one_line_and_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["exam", "validate", str(tmp_path / "nope.yaml")], env=env)
    assert result.exit_code == 2
    assert "No such file or directory" in result.stderr


def test_publish_then_list_then_publish_again_changes_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path, "spec.yaml", SPEC)
    runner = CliRunner()
    first = runner.invoke(main, ["exam", "publish", str(path)], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "exam 公需-2026 v1 saved and published (11 items per paper)"
    again = runner.invoke(main, ["exam", "publish", str(path)], env=env)
    assert again.stdout.strip() == "exam 公需-2026 v1 unchanged, published (11 items per paper)"
    listed = runner.invoke(main, ["exam", "list"], env=env)
    assert "公需-2026" in listed.stdout
    assert "published" in listed.stdout


def test_publish_of_a_spec_with_errors_prints_them_and_exits_1(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path, "spec.yaml", SPEC.replace("count: 6", "count: 30"))
    result = CliRunner().invoke(main, ["exam", "publish", str(path)], env=env)
    assert result.exit_code == 1
    assert "asks for 30 single items" in result.stdout
    assert "cannot be assembled: 1 problem(s)" in result.stderr


def test_paper_build_is_idempotent_and_show_says_identical(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    runner.invoke(main, ["exam", "publish", str(write(tmp_path, "spec.yaml", SPEC))], env=env)
    built = runner.invoke(
        main, ["paper", "build", "--exam", "公需-2026", "--learner", LEARNER], env=env
    )
    assert built.exit_code == 0, built.output
    assert "built and stored" in built.stdout
    again = runner.invoke(
        main, ["paper", "build", "--exam", "公需-2026", "--learner", LEARNER], env=env
    )
    assert "already stored" in again.stdout
    seed = built.stdout.split("seed ")[1].split(",")[0]

    shown = runner.invoke(
        main,
        ["paper", "show", "--exam", "公需-2026", "--learner", LEARNER, "--attempt", "1"],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[1] == f"seed {seed}"
    assert len([line for line in lines if line[:3].strip().isdigit()]) == 11
    assert "单选" in lines[2]
    assert lines[-2].startswith("mean difficulty ")
    assert lines[-1] == "identical to the stored paper"


def test_paper_show_of_a_tampered_paper_says_it_differs_and_exits_1(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    runner.invoke(main, ["exam", "publish", str(write(tmp_path, "spec.yaml", SPEC))], env=env)
    runner.invoke(main, ["paper", "build", "--exam", "公需-2026", "--learner", LEARNER], env=env)
    engine = make_engine(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"]))
    with engine.begin() as connection:
        content = connection.execute(sa.text("SELECT content FROM paper")).scalar_one()
        # Swap the option order of the first single-choice item: "A","B" → "B","A" etc.
        first, second = content.index('"A"'), content.index('"B"')
        swapped = content.replace('"A"', '"@"', 1).replace('"B"', '"A"', 1).replace('"@"', '"B"')
        assert first != second and swapped != content
        connection.execute(sa.text("UPDATE paper SET content = :c"), {"c": swapped})
    engine.dispose()
    shown = runner.invoke(
        main,
        ["paper", "show", "--exam", "公需-2026", "--learner", LEARNER, "--attempt", "1"],
        env=env,
    )
    assert shown.exit_code == 1
    assert shown.stdout.splitlines()[-1].startswith("DIFFERS from the stored paper: position ")


def test_paper_show_without_a_stored_paper_says_so(tmp_path: Path, env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["exam", "publish", str(write(tmp_path, "spec.yaml", SPEC))], env=env)
    shown = runner.invoke(
        main, ["paper", "show", "--exam", "公需-2026", "--learner", "nobody", "--attempt", "2"],
        env=env,
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[-1] == "no stored paper"


def test_preassemble_builds_the_missing_papers_and_they_audit_identical(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    runner.invoke(main, ["exam", "publish", str(write(tmp_path, "spec.yaml", SPEC))], env=env)
    runner.invoke(
        main, ["paper", "build", "--exam", "公需-2026", "--learner", "learner-7"], env=env
    )
    learners = write(
        tmp_path, "learners.txt", "\n".join(f"learner-{n}" for n in range(50)) + "\n\n"
    )
    result = runner.invoke(
        main, ["paper", "preassemble", "--exam", "公需-2026", "--learners", str(learners)], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "公需-2026 v1 attempt 1: 49 papers built, 1 already stored"
    shown = runner.invoke(
        main, ["paper", "show", "--exam", "公需-2026", "--learner", "learner-33", "--attempt", "1"],
        env=env,
    )  # fmt: skip
    assert shown.stdout.splitlines()[-1] == "identical to the stored paper"


def test_papers_of_an_unknown_or_unpublished_exam_are_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    unknown = runner.invoke(
        main, ["paper", "build", "--exam", "无此考试", "--learner", "x"], env=env
    )
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "error: there is no exam '无此考试'"
    spec = exams.decode_spec(SPEC.encode(), source="spec.yaml")
    with standalone_transaction(Settings.from_env(env).database) as session:
        exams.save_spec(session, spec, now=datetime.now(UTC))
    draft = runner.invoke(
        main, ["paper", "build", "--exam", "公需-2026", "--learner", "x"], env=env
    )
    assert draft.exit_code == 2
    assert "has no published version yet" in draft.stderr


def test_demo_load_publishes_the_demo_exam_and_its_papers_build(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "load"], env=env)
    assert first.exit_code == 0, first.output
    assert f"exam {DEMO_EXAM} v1 (20 items per paper)" in first.stdout
    second = runner.invoke(main, ["demo", "load"], env=env)
    assert "demo data already loaded" in second.stdout
    built = runner.invoke(
        main, ["paper", "build", "--exam", DEMO_EXAM, "--learner", LEARNER], env=env
    )
    assert built.exit_code == 0, built.output
    assert "20 items" in built.stdout


@pytest.fixture
def demo_env(migrated_cli_env: dict[str, str]) -> dict[str, str]:
    """A migrated database with the demo data loaded."""
    loaded = CliRunner().invoke(main, ["demo", "load"], env=migrated_cli_env)
    assert loaded.exit_code == 0, loaded.output
    return migrated_cli_env


def enrollments(env: dict[str, str]) -> dict[str, bool]:
    """Login → study requirement met, for every enrollment in the demo exam."""
    engine = make_engine(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT u.login, e.study_met FROM enrollment e JOIN user u"
                    " ON u.id = e.learner_id WHERE e.exam_key = :exam"
                ),
                {"exam": DEMO_EXAM},
            )
            return {login: bool(met) for login, met in rows}
    finally:
        engine.dispose()


def test_exam_enroll_enrolls_a_list_of_learners_all_or_nothing(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    made = CliRunner().invoke(main, ["demo", "learners", "3", "--prefix", "q-"], env=demo_env)
    assert made.exit_code == 0, made.output
    assert "3 learners created" in made.output
    bad = write(tmp_path, "bad.txt", "q-00001\nnobody-1\n\nq-00002\nnobody-2\n")
    refused = CliRunner().invoke(
        main, ["exam", "enroll", "--exam", DEMO_EXAM, "--learners", str(bad)], env=demo_env
    )
    assert refused.exit_code == 1
    assert f"{bad}:2: no account 'nobody-1'" in refused.stderr
    assert f"{bad}:4: no account 'nobody-2'" in refused.stderr
    # Nothing was enrolled by the refused list (the three came with demo learners).
    assert set(enrollments(demo_env)) == {LEARNER, "q-00001", "q-00002", "q-00003"}

    made = CliRunner().invoke(main, ["user", "add", "13900000077", "--role", "learner"],
                              env=demo_env, input="pw-Abcdef-1\npw-Abcdef-1\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    good = write(tmp_path, "good.txt", "13900000077\nq-00001\n")
    result = CliRunner().invoke(
        main,
        ["exam", "enroll", "--exam", DEMO_EXAM, "--learners", str(good), "--study-met"],
        env=demo_env,
    )
    assert result.exit_code == 0, result.output
    assert "1 learners enrolled, 1 already enrolled (study requirement met)" in result.output
    assert enrollments(demo_env)["13900000077"] is True


def test_exam_enroll_names_an_unknown_exam_in_chinese(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    good = write(tmp_path, "good.txt", f"{LEARNER}\n")
    result = CliRunner().invoke(
        main,
        ["exam", "enroll", "--exam", "没有的考试", "--learners", str(good), "--lang", "zh"],
        env=demo_env,
    )
    assert result.exit_code == 2
    assert "考试 '没有的考试' 不存在" in result.stderr


def test_exam_preassemble_stores_every_enrolled_learners_next_paper_and_names_bad_lines(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    runner.invoke(main, ["exam", "publish", str(write(tmp_path, "spec.yaml", SPEC))], env=env)
    logins = [LEARNER, "13800000021", "13800000022"]
    with standalone_transaction(Settings.from_env(env).database) as session:
        session.add_all(
            User(login=login, display_name=login, password_hash="x", roles=["learner"])
            for login in [*logins, "13800000099"]
        )
    roster = write(tmp_path, "roster.txt", "\n".join(logins))
    enrolled = runner.invoke(
        main, ["exam", "enroll", "--exam", "公需-2026", "--learners", str(roster)], env=env
    )
    assert enrolled.exit_code == 0, enrolled.output

    result = runner.invoke(main, ["exam", "preassemble", "公需-2026"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "公需-2026 v1: next papers of 3 learner(s) stored (3 built, 0 already stored)"
    )
    some = write(tmp_path, "some.txt", f"{LEARNER}\n")
    again = runner.invoke(
        main, ["exam", "preassemble", "公需-2026", "--learners", str(some)], env=env
    )
    assert "(0 built, 1 already stored)" in again.stdout

    bad = write(tmp_path, "bad.txt", f"{LEARNER}\n13800000099\nnobody\n")
    refused = runner.invoke(
        main, ["exam", "preassemble", "公需-2026", "--learners", str(bad), "--lang", "zh"], env=env
    )
    assert refused.exit_code == 1
    assert f"{bad}:2: '13800000099' 不是本考试的考生" in refused.stderr
    assert f"{bad}:3: 'nobody' 不是本考试的考生" in refused.stderr
