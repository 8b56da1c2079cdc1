"""The load-run command works end to end on a small scale: locust drives the synchronized
exam start against a real server, and the ledger finds every acknowledged save stored,
every attempt closed by the clock in time, and the server serving again at once.

(locust is run as a subprocess: importing it here would monkey-patch the test process.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_load_run_passes_its_ledger(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--users", "12", "--duration", "12",
         "--start-window", "3", "--exam-minutes", "1", "--save-every", "2-4",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    assert "- ledger ok:" in report
    assert "12 attempts started, 12 closed by the clock" in report
    recovered = re.search(r"recovered \(a fresh learner signs in and starts\) ([\d.]+) s", report)
    assert recovered is not None and float(recovered.group(1)) < 10, report
    assert "| save |" in report and "| start |" in report
