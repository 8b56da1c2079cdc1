"""``examengine plan …`` as an operator runs it: import a plan with its own anti-idle
policy, enroll learners; bad files and unknown learners get one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlmodel import select

from api.cli.main import main
from api.services import study
from api.settings import DatabaseSettings
from api.store.db import standalone_transaction
from api.store.tables import PlanEnrollment
from examengine.challenges import ChallengeKind, ChallengePolicy, OnMiss

PLAN = """key: 2026-公需
title: 2026 公需科目
year: 2026
category: public
required_hours: 1
elective_hours: 0
challenge:
  min_interval_ms: 600000
  max_interval_ms: 1200000
  window_ms: 90000
  kind: prompt
  on_miss: void
courses:
  - required: true
    course:
      key: 法规
      title: 法规
      chapters:
        - {key: 法规-1, title: 第一章, duration_ms: 1800000, credit_hours: 1}
"""
LEARNER = "11010519491231002X"


@pytest.fixture
def env(migrated_cli_env: dict[str, str]) -> dict[str, str]:
    """A migrated database with one learner."""
    password = "learner-pass-1\n" * 2
    added = CliRunner().invoke(
        main, ["user", "add", LEARNER, "--role", "learner"], env=migrated_cli_env, input=password
    )
    assert added.exit_code == 0, added.output
    return migrated_cli_env


def test_a_plan_with_its_own_policy_is_imported_and_learners_enrolled(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    result = runner.invoke(main, ["plan", "import", "plan.yaml"], env=env)
    assert result.exit_code == 0, result.output
    assert "plan 2026-公需: 1 courses, its own policy" in result.output
    enrolled = runner.invoke(main, ["plan", "enroll", "--plan", "2026-公需", LEARNER], env=env)
    assert enrolled.exit_code == 0, enrolled.output
    with standalone_transaction(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"])) as db:
        assert study.load_plan(db, "2026-公需").challenge == ChallengePolicy(
            min_interval_ms=600_000, max_interval_ms=1_200_000, window_ms=90_000,
            kind=ChallengeKind.PROMPT, on_miss=OnMiss.VOID,
        )  # fmt: skip
        assert len(db.exec(select(PlanEnrollment)).all()) == 1


def test_a_plan_priced_per_credit_hour_is_imported_with_its_price(
    tmp_path: Path, env: dict[str, str]
) -> None:
    priced = PLAN.replace("year: 2026", "year: 2026\nprice_fen: 150\nprice_basis: hour")
    (tmp_path / "plan.yaml").write_text(priced, encoding="utf-8")
    assert CliRunner().invoke(main, ["plan", "import", "plan.yaml"], env=env).exit_code == 0
    with standalone_transaction(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"])) as db:
        plan = study.load_plan(db, "2026-公需")
    assert (plan.price_fen, plan.price_basis) == (150, "hour")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("window_ms: 90000", "window_ms: 90"),
            "Expected `int` >= 1000 - at `$.challenge.window_ms`",
        ),
        (("kind: prompt", "kind: video"), "at `$.challenge.kind`"),
        (("required: true", "required: false"), "the required courses offer 0 h, less than 1 h"),
        (("year: 2026", "year: [2026"), "not valid YAML"),
        (("year: 2026", "year: 2026\nprice_fen: -100"), "Expected `int` >= 0 - at `$.price_fen`"),
        (("year: 2026", "year: 2026\nprice_fen: 10000001"), "at `$.price_fen`"),
        (("year: 2026", "year: 2026\nprice_basis: month"), "at `$.price_basis`"),
    ],
)
def test_a_bad_plan_file_is_refused_naming_the_field(
    tmp_path: Path, env: dict[str, str], change: tuple[str, str], message: str
) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN.replace(*change), encoding="utf-8")
    result = CliRunner().invoke(main, ["plan", "import", "plan.yaml"], env=env)
    assert result.exit_code == 2
    assert "plan.yaml" in result.output and message in result.output, result.output
    assert "Traceback" not in result.output


def test_enrolling_an_unknown_learner_changes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    runner = CliRunner()
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    assert runner.invoke(main, ["plan", "import", "plan.yaml"], env=env).exit_code == 0
    result = runner.invoke(
        main, ["plan", "enroll", "--plan", "2026-公需", LEARNER, "13800009999"], env=env
    )
    assert result.exit_code == 2 and "no such learner: 13800009999" in result.output
    missing = runner.invoke(main, ["plan", "enroll", "--plan", "nope", LEARNER], env=env)
    assert missing.exit_code == 2 and "nope" in missing.output
    with standalone_transaction(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"])) as db:
        assert db.exec(select(PlanEnrollment)).all() == []


def test_a_batch_of_activation_codes_is_written_to_a_workbook(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    assert runner.invoke(main, ["plan", "import", "plan.yaml"], env=env).exit_code == 0
    out = tmp_path / "codes.xlsx"
    result = runner.invoke(
        main, ["plan", "codes", "--plan", "2026-公需", "--count", "5", "--employer", "一中",
               "--out", str(out)], env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "5 codes for 2026-公需" in result.output
    rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 6 and rows[1][2:5] == ("2026 公需科目", 2026, "一中")
    unknown = runner.invoke(
        main, ["plan", "codes", "--plan", "nope", "--count", "1", "--out", str(out),
               "--lang", "zh"], env=env,
    )  # fmt: skip
    assert unknown.exit_code == 2 and "学习计划 'nope' 不存在" in unknown.output
