"""Every scenario of a load run, weighted (``LOADTEST_WEIGHT_*``) or counted
(``LOADTEST_COUNT_*``), and chosen by name on the command line as locust allows:
``locust -f loadtests/locustfile.py ExamTaker Proctor`` (loadtests/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # loaded by path as a locustfile: the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.exam_start import ExamTaker
from loadtests.staff import Author, Proctor
from loadtests.studying import Studier

__all__ = ["Author", "ExamTaker", "Proctor", "Studier"]
