"""The Redis restart drill (loadtests/drills/redis_restart.py) at a small size: a real
``examengine serve`` with two workers over its own redis-server (AOF, ``appendfsync
everysec``); learners study and answer challenges; Redis is restarted twice mid-study,
once with a clean SHUTDOWN and once with SIGKILL.

Checked: nobody is signed out (the login sessions come back from the AOF), no reply is a
500 and none hangs (503 + Retry-After while Redis is away), the app is ready again by
itself, and in the study log every challenge was issued once, passed, and numbered one
after another, with challenges issued after the last restart too."""

from __future__ import annotations

import shutil
from pathlib import Path

from loadtests.drills.redis_restart import run_drill
from tests.conftest import unavailable

LEARNERS = 4


def test_a_redis_restart_mid_study_loses_no_challenge_and_no_sign_in(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        unavailable("redis-server", FileNotFoundError("redis-server"), "install redis-server")
    report = run_drill(
        tmp_path, learners=LEARNERS, workers=2, restarts=("shutdown", "kill"),
        study_s=5.0, outage_s=1.0,
    )  # fmt: skip
    assert report.problems == [], report.summary()
    replies = sum((lr.replies for lr in report.learners), start=type(report.learners[0].replies)())
    assert replies["503 redis_unavailable"] > 0, f"Redis was never missed: no drill\n{replies}"
    assert not [k for k in replies if k.startswith("5") and k != "503 redis_unavailable"], replies
    # armed before the restarts, and carrying on after them: each learner's next challenge
    # comes 2–3 s after the last was answered, so 5 s after the last restart each had one
    assert report.issued_before >= 1 and report.issued_after >= LEARNERS, report.summary()
    assert all(lr.answered for lr in report.learners)
    assert len(report.recovered_s) == 2
