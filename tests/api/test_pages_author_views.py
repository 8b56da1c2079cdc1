"""The author's pages as issue 17 left them (without a browser): questions counted in the
file, not only those read; format names, not keys; item analysis by stem, with blanks
apart and no verdict on too few answers; the version diff page (tests/e2e/test_author.py
looks at them in Chromium at 1280 and 390 px)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.cli.demo import DEMO_BANK, load_demo
from api.services import banks
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import BankVersion, ItemResponse
from api.web.author import diff_view, field_text
from itembank.formats import ParsedItem
from itembank.lint import LintReport
from itembank.model import Item, Option, SingleChoice, TrueFalse
from itembank.problems import Location, Problem

Client = AsyncTestClient[Litestar]
AUTHOR = ("13800000001", "author-demo-1")

THREE_ONE_BROKEN = """::q1:: 一加一等于几？{=二 ~三 ~四}

::q2:: 天空是什么颜色{=蓝 ~绿

::q3:: 地球是圆的。{TRUE}
""".encode()


@pytest.fixture
async def author(app_client: Client, app_settings: Settings) -> Client:
    with standalone_transaction(app_settings.database) as db:
        load_demo(db, now=datetime.now(UTC))
    response = await app_client.post(
        "/auth/login", json={"login": AUTHOR[0], "password": AUTHOR[1]}
    )
    assert response.status_code == 200, response.text
    await app_client.get("/auth/me")  # a GET sets the CSRF cookie the upload needs
    app_client.headers["x-csrftoken"] = app_client.cookies["csrftoken"]
    return app_client


async def html_of(client: Client, url: str) -> str:
    response = await client.get(url)
    assert response.status_code == 200, response.text[:500]
    return response.text


def text_of(html: str) -> str:
    """The page's words (tags dropped, whitespace squeezed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_the_lint_counts_the_questions_it_could_not_read(author: Client) -> None:
    response = await author.post("/api/banks/lint", files={"file": ("bank.gift", THREE_ONE_BROKEN)})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["items"], report["items_seen"], report["items_with_errors"]) == (2, 3, 1)


async def test_the_upload_page_names_formats_and_says_so_when_a_file_is_clean(
    author: Client,
) -> None:
    html = await html_of(author, "/author/upload")
    assert '<option value="moodle">Moodle XML</option>' in html
    assert '<option value="native">本系统 YAML/JSON</option>' in html
    assert ">native<" not in html and ">qti<" not in html
    assert "没有发现问题。" in html  # the clean file's notice, shown instead of a table
    english = await html_of(author, "/author/upload?lang=en")
    assert "No problems found." in english
    assert "This system&#39;s YAML/JSON" in english


async def test_item_analysis_names_items_by_stem_counts_blanks_apart_and_waits_for_answers(
    author: Client, app_settings: Settings
) -> None:
    with standalone_transaction(app_settings.database) as db:
        version_id = db.exec(select(BankVersion.id)).first()
        assert version_id is not None
        stem = banks.get_item(db, bank=DEMO_BANK, key="law-001").stem
        db.add(
            ItemResponse(
                bank_version_id=version_id, item_key="law-001", learner_ref="L-one",
                response="B", score=0.0, max_score=1.0,
            )
        )  # fmt: skip
        for n in range(3):
            db.add(
                ItemResponse(
                    bank_version_id=version_id, item_key="law-001", learner_ref=f"L-blank-{n}",
                    response=None, score=0.0, max_score=1.0,
                )
            )  # fmt: skip
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/stats")
    row = re.search(r'<tr[^>]*data-key="law-001">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = row.group(1)
    assert stem[:20] in cells and "law-001" in cells
    assert re.search(r'class="responses"[^>]*>1<', cells)
    assert re.search(r'class="blanks"[^>]*>3<', cells)
    assert "仅 1 人作答，样本不足" in cells
    assert "过难" not in cells and 'class="flagged"' not in html
    assert '<label for="version">版本</label>' in html
    assert ">查看</button>" in html and ">搜索<" not in html
    assert "作答人数少于 30 的试题不作难度和区分度判断" in html
    english = text_of(await html_of(author, f"/author/banks/{DEMO_BANK}/stats?lang=en"))
    assert "only 1 response, too few to judge" in english
    assert "Version 1: 4 learners, 31 items." in english


async def test_the_diff_page_shows_added_removed_and_changed_items_side_by_side(
    author: Client, app_settings: Settings
) -> None:
    with standalone_transaction(app_settings.database) as db:
        first = banks.get_item(db, bank=DEMO_BANK, key="law-001")
        banks.save_item(
            db, bank=DEMO_BANK, item=msgspec.structs.replace(first, points=3.0),
            now=datetime.now(UTC), author_id=None,
        )  # fmt: skip
    bank_page = await html_of(author, f"/author/banks/{DEMO_BANK}")
    assert '/diff?old=1&amp;new=2"' in bank_page
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/diff")
    words = text_of(html)
    assert "第 1 版 → 第 2 版：新增 0 道试题，删除 0 道试题，修改 1 道试题。" in words
    changed = re.search(r'<dd class="diff-pair" data-field="points">(.*?)</dd>', html, re.S)
    assert changed is not None
    assert text_of(changed.group(1)) == "修改前 1 修改后 3"
    english = text_of(await html_of(author, f"/author/banks/{DEMO_BANK}/diff?old=1&new=2&lang=en"))
    assert "Version 1 → version 2: 0 items added, 0 items removed, 1 item changed." in english
    assert "Points Before 1 After 3" in english
    same = text_of(await html_of(author, f"/author/banks/{DEMO_BANK}/diff?old=2&new=2&lang=zh"))
    assert "请选择两个不同的版本。" in same


async def test_a_diff_of_a_version_that_does_not_exist_is_a_404_page(author: Client) -> None:
    response = await author.get(f"/author/banks/{DEMO_BANK}/diff?old=1&new=9")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    bad = await author.get(f"/author/banks/{DEMO_BANK}/diff?old=abc")
    assert bad.status_code == 422  # as every page answers a parameter of the wrong shape
    assert "old" in bad.text


def test_a_changed_body_reads_as_options_with_the_correct_one_marked() -> None:
    def choice(correct: str) -> Item:
        return Item(
            key="q",
            stem="一加一？",
            body=SingleChoice(
                options=tuple(
                    Option(id=i, text=t, fraction=1.0 if i == correct else 0.0)
                    for i, t in (("A", "二"), ("B", "三"))
                )
            ),
        )

    assert field_text(choice("A"), "body", "zh") == "题型：单选题\nA. 二 （正确）\nB. 三"
    assert field_text(choice("B"), "body", "en").splitlines()[-1] == "B. 三 (correct)"
    view = diff_view([choice("A")], [choice("B")], "en")
    assert [f["name"] for f in view["changed"][0]["fields"]] == ["body"]
    added = Item(key="tf", stem="对吗？", body=TrueFalse(answer=True))
    assert diff_view([], [added], "zh")["added"] == [("tf", "对吗？")]


def test_questions_are_counted_from_the_problems_when_the_parser_gave_no_count() -> None:
    read = Item(key="q1", stem="一加一？", body=TrueFalse(answer=True))
    report = LintReport(
        items=(ParsedItem(item=read, location=Location(line=1)),),
        problems=(
            Problem(code="missing-key", message="m", message_zh="m", line=1, item_key="q1"),
            Problem(code="syntax", message="s", message_zh="s", line=3),
            Problem(code="syntax", message="s", message_zh="s", line=3, col=9),
            Problem(code="empty-topic", message="w", message_zh="w", line=5, severity="warning"),
            Problem(code="encoding", message="f", message_zh="f"),  # the file's, no question's
        ),
    )
    assert banks.question_counts(report) == (2, 2)
    assert banks.question_counts(msgspec.structs.replace(report, items_seen=4)) == (4, 2)
