"""``examengine loadtest prepare`` as a load tester runs it: accounts of every role made in
bulk with one password hash, exam takers enrolled with the study requirement met,
studiers enrolled in the load-test plan, idempotent; refused in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from api.cli.main import main
from api.services.passwords import verify_password

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "loadtests" / "exam.yaml"


def _rows(env: dict[str, str], query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(env["EXAMENGINE_DATABASE_URL"])
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(sa.text(query))]
    finally:
        engine.dispose()


def test_prepare_makes_every_account_with_one_hash_and_enrolls_them(
    migrated_cli_env: dict[str, str],
) -> None:
    args = ["loadtest", "prepare", "--learners", "7", "--studiers", "3", "--authors", "2",
            "--exam-spec", str(SPEC), "--exam-minutes", "2",
            "--password", "secret-pass-1"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=migrated_cli_env)
    assert result.exit_code == 0, result.output
    assert "7 exam takers (7 newly enrolled in 压测-公需科目, study met)" in result.output
    assert "3 studiers (3 newly enrolled in 压测-学习计划)" in result.output
    assert "1 proctors" in result.output and "2 authors" in result.output

    hashes = _rows(
        migrated_cli_env,
        "SELECT DISTINCT password_hash FROM \"user\" WHERE login LIKE 'load-%'"
        " OR login LIKE 'study-%' OR login LIKE 'proctor-%' OR login LIKE 'author-%'",
    )
    assert len(hashes) == 1  # hashed once, stored on every row
    assert verify_password(str(hashes[0][0]), "secret-pass-1")
    enrolled = _rows(
        migrated_cli_env,
        'SELECT u.login, e.study_met FROM enrollment e JOIN "user" u ON u.id = e.learner_id'
        " WHERE e.exam_key = '压测-公需科目' ORDER BY u.login",
    )
    assert enrolled == [(f"load-{n:05d}", True) for n in range(1, 8)]
    studying = _rows(
        migrated_cli_env,
        "SELECT count(*) FROM plan_enrollment pe JOIN plan p ON p.id = pe.plan_id"
        " WHERE p.key = '压测-学习计划'",
    )
    assert studying == [(3,)]
    duration = _rows(
        migrated_cli_env,
        "SELECT spec FROM exam_version v JOIN exam e ON e.id = v.exam_id"
        " WHERE e.key = '压测-公需科目' AND v.state = 'published'",
    )
    assert '"duration_s":120' in str(duration[-1][0]).replace(" ", "")

    again = CliRunner().invoke(main, args, env=migrated_cli_env)
    assert again.exit_code == 0, again.output
    assert "7 exam takers (0 newly enrolled" in again.output
    assert _rows(migrated_cli_env, "SELECT count(*) FROM \"user\" WHERE login LIKE 'load-%'") == [
        (7,)
    ]


def test_prepare_stores_the_papers_when_asked(migrated_cli_env: dict[str, str]) -> None:
    args = ["loadtest", "prepare", "--learners", "3", "--exam-spec", str(SPEC), "--preassemble"]
    result = CliRunner().invoke(main, args, env=migrated_cli_env)
    assert result.exit_code == 0, result.output
    assert "papers: 3 built, 0 already stored" in result.output
    again = CliRunner().invoke(main, args, env=migrated_cli_env)
    assert "papers: 0 built, 3 already stored" in again.output


def test_prepare_is_refused_in_production(migrated_cli_env: dict[str, str]) -> None:
    env = {**migrated_cli_env, "EXAMENGINE_ENV": "production",
           "EXAMENGINE_SECRET_KEY": "s" * 64, "EXAMENGINE_PAPER_SECRET": "p" * 64,
           "EXAMENGINE_SIGNING_SECRET": "g" * 64}  # fmt: skip
    result = CliRunner().invoke(main, ["loadtest", "prepare", "--learners", "3"], env=env)
    assert result.exit_code != 0
    assert "refused in production" in result.output
    assert _rows(migrated_cli_env, 'SELECT count(*) FROM "user"') == [(0,)]


def test_a_bad_challenge_interval_is_named(migrated_cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main, ["loadtest", "prepare", "--learners", "1", "--challenge-every", "40-20"],
        env=migrated_cli_env,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--challenge-every '40-20'" in result.output


def test_run_hands_its_arguments_to_the_load_runner(cli_env: dict[str, str]) -> None:
    # A subprocess: the command runs ``python -m loadtests.run`` in one of its own.
    command = [sys.executable, "-m", "api.cli.main", "loadtest", "run"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, check=False,
                           env={**os.environ, **cli_env}, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "--scenarios" in shown.stdout and "--processes" in shown.stdout
    refused = subprocess.run([*command, "--users", "1", "--scenarios", "exam,lunch"],
                             capture_output=True, text=True, check=False,
                             env={**os.environ, **cli_env}, timeout=60)  # fmt: skip
    assert refused.returncode == 2
    assert "--scenarios: unknown lunch" in refused.stderr
