"""The course team's and proctors' pages without a browser: who may see them, what they
show, and that every form control has a label (the browser tests are tests/e2e)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.cli.demo import DEMO_BANK, DEMO_EXAM, load_demo
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import BankVersion, ItemResponse
from api.web.author import item_view
from itembank.model import Item, MultipleChoice, Option

Client = AsyncTestClient[Litestar]
AUTHOR = ("13800000001", "author-demo-1")
PROCTOR = ("13800000002", "proctor-demo-1")
OPERATOR = ("13800000003", "operator-demo-1")
LEARNER = ("11010519491231002X", "learner-demo-1")


@pytest.fixture
async def demo(app_client: Client, app_settings: Settings) -> Client:
    with standalone_transaction(app_settings.database) as db:
        load_demo(db, now=datetime.now(UTC))
    return app_client


async def sign_in(client: Client, account: tuple[str, str]) -> Client:
    response = await client.post("/auth/login", json={"login": account[0], "password": account[1]})
    assert response.status_code == 200, response.text
    return client


async def page(client: Client, url: str, status: int = 200) -> str:
    response = await client.get(url)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


class Controls(HTMLParser):
    """Form controls outside <template> and whether each has an accessible name."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self._label_depth = 0
        self._template_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "template":
            self._template_depth += 1
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labels.add(str(a["for"]))
        if self._template_depth:
            return
        hidden = a.get("type") in ("hidden", "submit", "button")
        if tag in ("input", "select", "textarea") and not hidden:
            self.controls.append({**a, "_wrapped": "yes" if self._label_depth else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        if tag == "template":
            self._template_depth -= 1

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            c
            for c in self.controls
            if not c["_wrapped"] and c.get("id") not in self.labels and not c.get("aria-label")
        ]


def assert_labelled(html: str) -> None:
    parser = Controls()
    parser.feed(html)
    assert parser.controls, "the page has no form controls"
    assert parser.unlabelled() == []


def data_block(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


# ---------------------------------------------------------------------------- guards


@pytest.mark.parametrize("url", ["/author", "/author/upload", "/proctor"])
async def test_a_visitor_who_is_not_signed_in_is_sent_to_the_login_with_the_page_to_return_to(
    demo: Client, url: str
) -> None:
    response = await demo.get(url, follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login?next=" + url.replace("/", "%2F")


async def test_a_learner_is_sent_home_from_the_authors_and_the_proctors_pages(
    demo: Client,
) -> None:
    await sign_in(demo, LEARNER)
    for url in ("/author", "/proctor"):
        response = await demo.get(url, follow_redirects=False)
        assert response.status_code in (302, 303)
        assert response.headers["location"] == "/learner/exams"


async def test_an_author_may_not_open_the_proctors_page_and_a_proctor_not_the_authors(
    demo: Client,
) -> None:
    await sign_in(demo, AUTHOR)
    response = await demo.get("/proctor", follow_redirects=False)
    assert response.headers["location"] == "/author"
    await demo.post("/auth/logout")
    await sign_in(demo, PROCTOR)
    response = await demo.get("/author", follow_redirects=False)
    assert response.headers["location"] == "/proctor"


# ---------------------------------------------------------------------------- author


async def test_the_authors_home_lists_the_banks_and_exams(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), "/author")
    assert DEMO_BANK in html and DEMO_EXAM in html
    assert "题库与考试" in html
    english = await page(demo, "/author?lang=en")
    assert "Banks and exams" in english


async def test_the_upload_form_labels_its_file_format_and_bank_fields(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), f"/author/upload?bank={DEMO_BANK}")
    assert '<label for="file">题库文件</label>' in html
    assert '<label for="format">文件格式</label>' in html
    assert f'value="{DEMO_BANK}"' in html
    assert_labelled(html)


async def test_the_item_browser_searches_by_kind_and_topic(demo: Client) -> None:
    await sign_in(demo, AUTHOR)
    html = await page(demo, f"/author/banks/{DEMO_BANK}/items?kind=true_false&topic=政策法规")
    assert "law-003" in html and "law-001" not in html
    assert_labelled(html)


async def test_an_item_preview_shows_the_learners_view_and_the_key_apart(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), f"/author/banks/{DEMO_BANK}/items/law-001")
    learner, key = html.split('id="key-title"')
    assert "专业技术人员参加继续教育的时间" in learner
    assert "90 学时" in learner and "正确答案" not in learner
    assert "正确答案" in key and "<strong>B</strong>. <span data-content>90 学时</span>" in key


async def test_the_item_editor_has_a_labelled_control_for_every_field(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), f"/author/banks/{DEMO_BANK}/items/law-001/edit")
    assert_labelled(html)
    data = data_block(html)
    assert data["bank"] == DEMO_BANK and data["item"]["key"] == "law-001"
    assert data["item"]["body"]["type"] == "single"


async def test_the_spec_builder_starts_from_the_exams_latest_spec(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), f"/author/exams/{DEMO_EXAM}/edit")
    assert_labelled(html)
    data = data_block(html)
    assert data["spec"]["key"] == DEMO_EXAM and len(data["spec"]["sections"]) == 4
    assert data["banks"][0]["bank"] == DEMO_BANK
    new = data_block(await page(demo, "/author/exams/new"))
    assert new["spec"]["bank"] == DEMO_BANK and new["new"] is True


async def test_the_topics_of_a_bank_version_feed_the_builders_supply_hints(demo: Client) -> None:
    await sign_in(demo, AUTHOR)
    response = await demo.get(f"/author/banks/{DEMO_BANK}/versions/1/topics")
    topics = {t["topic"]: t["kinds"] for t in response.json()["topics"]}
    assert topics["政策法规"]["single"] >= 1


async def test_the_sample_paper_shows_every_question_of_the_test_learners_paper(
    demo: Client,
) -> None:
    await sign_in(demo, AUTHOR)
    html = await page(demo, f"/author/exams/{DEMO_EXAM}/sample?learner=T-1&attempt=1")
    assert html.count('class="sample-question"') == 20
    assert "共 100 分" in html
    assert html == await page(demo, f"/author/exams/{DEMO_EXAM}/sample?learner=T-1&attempt=1")
    assert html != await page(demo, f"/author/exams/{DEMO_EXAM}/sample?learner=T-2&attempt=1")


async def test_item_analysis_flags_items_in_its_table_and_hands_the_charts_their_data(
    demo: Client, app_settings: Settings
) -> None:
    with standalone_transaction(app_settings.database) as db:
        version_id = db.exec(select(BankVersion.id)).first()
        for learner in range(40):
            db.add(
                ItemResponse(
                    bank_version_id=version_id, item_key="law-001", learner_ref=f"L{learner}",
                    response="B", score=1.0, max_score=1.0,
                )
            )  # fmt: skip
    html = await page(await sign_in(demo, AUTHOR), f"/author/banks/{DEMO_BANK}/stats")
    assert 'class="flagged" data-key="law-001"' in html
    assert "过易" in html
    stats = data_block(html)
    assert stats["learners"] == 40
    assert 'id="facility-histogram"' in html


async def test_a_missing_bank_or_exam_is_a_page_saying_so_in_the_chosen_language(
    demo: Client,
) -> None:
    await sign_in(demo, AUTHOR)
    html = await page(demo, "/author/banks/没有这个题库", status=404)
    assert "题库 &#39;没有这个题库&#39; 不存在" in html
    english = await page(demo, "/author/exams/nope/sample?lang=en", status=404)
    assert "there is no exam &#39;nope&#39;" in english


def test_an_item_view_letters_options_in_the_papers_order_and_keeps_the_key() -> None:
    item = Item(
        key="m",
        stem="?",
        body=MultipleChoice(
            options=(
                Option(id="A", text="a", fraction=0.5),
                Option(id="B", text="b"),
                Option(id="C", text="c", fraction=0.5),
            )
        ),
    )
    view = item_view(item, ("C", "B", "A"))
    assert [(o["letter"], o["id"], o["correct"]) for o in view["options"]] == [
        ("A", "C", True),
        ("B", "B", False),
        ("C", "A", True),
    ]


# --------------------------------------------------------------------------- proctor


async def test_the_proctors_page_lists_no_attempt_and_offers_no_grant_to_a_proctor(
    demo: Client,
) -> None:
    html = await page(await sign_in(demo, PROCTOR), "/proctor")
    assert "目前没有正在进行的考试" in html
    assert 'id="grant-form"' not in html and "增加考试机会需要运维人员权限" in html
    assert_labelled(html)
    assert data_block(html)["refresh_ms"] == 5000


async def test_the_live_list_shows_an_open_attempt_and_operators_get_the_grant_form(
    demo: Client,
) -> None:
    await sign_in(demo, LEARNER)
    started = await demo.post(f"/api/exams/{DEMO_EXAM}/attempts", json={})
    assert started.status_code == 201, started.text
    await demo.post("/auth/logout")
    html = await page(await sign_in(demo, OPERATOR), "/proctor")
    assert 'id="grant-form"' in html
    assert LEARNER[0] in html and "正式" in html
    assert re.search(r'data-seconds="(71\d\d|7200)">', html)
    assert "尚未保存" in html
    assert_labelled(html)
