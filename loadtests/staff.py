"""``Proctor`` and ``Author``: the staff beside an exam peak.

- ``Proctor`` (``proctor-001`` …, one per 300 exam takers by default: ``examengine
  loadtest prepare``) opens the proctoring page and polls the live list every 5 s, as
  api/web/static/js/proctor.js does (``/api/operator/attempts?open=true&exam=…``).
- ``Author`` (``author-001`` …) works lightly in the background: every 10–30 s a read of
  the banks, a search of the demo bank's items, one item, the item analysis (the
  author's statistics page and its API), or a save of a draft exam spec.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from urllib.parse import quote

import gevent
from locust import between, constant, task

if __package__ in (None, ""):  # loaded by path as a locustfile: the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.page import PageUser, env_float, number

EXAM = os.environ.get("LOADTEST_EXAM", "压测-公需科目")
BANK = os.environ.get("LOADTEST_BANK", "公需科目-演示题库")
#: proctor.js ``REFRESH_MS``.
REFRESH_S = 5.0


class Proctor(PageUser):
    """A proctor watching the live list of the exam."""

    wait_time = constant(REFRESH_S)
    weight = int(env_float("LOADTEST_WEIGHT_PROCTOR", 1))
    fixed_count = int(env_float("LOADTEST_COUNT_PROCTOR", 0))

    def on_start(self) -> None:
        self.login = f"proctor-{number(self.environment, 'proctor'):03d}"
        self.signed_in = self.sign_in(self.login)
        if self.signed_in:
            self.send("GET", f"/proctor/?exam={quote(EXAM)}", None, "proctor page")

    @task
    def refresh(self) -> None:
        if not self.signed_in:
            self.signed_in = self.sign_in(self.login)
            return
        self.send("GET", f"/api/operator/attempts?open=true&exam={quote(EXAM)}", None,
                  "proctor live list", retries=0)  # fmt: skip


class Author(PageUser):
    """An author at work while the exam runs: reads, the item analysis, a draft saved."""

    wait_time = between(10, 30)
    weight = int(env_float("LOADTEST_WEIGHT_AUTHOR", 1))
    fixed_count = int(env_float("LOADTEST_COUNT_AUTHOR", 0))

    def on_start(self) -> None:
        self.login = f"author-{number(self.environment, 'author'):03d}"
        self.drafts = 0
        self.signed_in = self.sign_in(self.login)
        if self.signed_in:
            self.send("GET", "/author/", None, "author page")

    @task(3)
    def browse(self) -> None:
        if not self.signed_in:
            return
        bank = quote(BANK, safe="")
        self.send("GET", "/api/banks/", None, "author banks")
        status, found = self.send("GET", f"/api/banks/{bank}/items?q=", None, "author items")
        listed = found.get("items") if isinstance(found, dict) else found
        if status == 200 and isinstance(listed, list) and listed:
            key = random.choice(listed).get("key")
            if key:
                self.send("GET", f"/api/banks/{bank}/items/{quote(str(key), safe='')}", None,
                          "author item")  # fmt: skip

    @task(2)
    def item_analysis(self) -> None:
        if not self.signed_in:
            return
        bank = quote(BANK, safe="")
        self.send("GET", f"/api/banks/{bank}/stats", None, "author item analysis")
        gevent.sleep(random.uniform(2, 5))
        self.send("GET", f"/author/banks/{bank}/stats", None, "author stats page")

    @task(1)
    def save_draft(self) -> None:
        if not self.signed_in:
            return
        self.drafts += 1
        spec = {
            "key": f"{self.login}-草稿", "title": f"压测草稿 {self.drafts}", "bank": BANK,
            "bank_version": 1, "duration_s": 1800, "max_attempts": 2, "pass_mark": 0.6,
            "sections": [{"title": "单项选择题", "kind": "single", "count": 5, "points": 4}],
        }  # fmt: skip
        self.send("POST", "/api/exams/", spec, "author save draft")
