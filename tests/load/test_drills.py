"""The fault drills (loadtests/drills/) in their short mode, each ending in the ledger
check: a worker killed with SIGKILL twice under learners saving loses no acknowledged
save and the supervisor brings the worker back; a private PostgreSQL crashed and started
again mid-exam is answered with fast 503s carrying Retry-After, loses nothing
acknowledged, and the service returns by itself.

(Run as subprocesses, as the operator runs them; a few learners, seconds each.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("EXAMENGINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def drill(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", f"loadtests.drills.{name}", "--short", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drill: ok" in result.stdout
    return result.stdout


@pytest.mark.postgres
@pytest.mark.redis
def test_killing_a_worker_twice_mid_peak_loses_no_acknowledged_save(
    postgres_url: str, redis_url: str
) -> None:
    report = drill("kill_worker")
    assert "workers killed: 2; alive at the end: 2 of 2" in report
    ledger = re.search(r"ledger ok: (\d+) acknowledged saves stored", report)
    assert ledger is not None and int(ledger.group(1)) > 0, report
    assert "6 submits graded once" in report


@pytest.mark.postgres
def test_a_postgres_restart_mid_exam_fails_fast_loses_nothing_and_the_service_returns() -> None:
    if not (PG_BIN / "initdb").exists():
        unavailable(f"PostgreSQL's initdb in {PG_BIN}", FileNotFoundError(PG_BIN / "initdb"),
                    "install postgresql-15 or set EXAMENGINE_TEST_PG_BIN")  # fmt: skip
    report = drill("postgres_restart", "--pg-bin", str(PG_BIN))
    outage = re.search(r"during the outage: (.*)", report)
    assert outage is not None and "503" in outage.group(1), report
    assert re.search(r"after the restart [1-9]", report), report
    assert "6 submits graded once" in report
