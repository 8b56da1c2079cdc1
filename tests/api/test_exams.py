"""The exams API, as a course team and an operator use it: save a spec (or see every
problem), check it live, publish it, browse, preview a paper, audit a stored paper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli.demo import DEMO_BANK, DEMO_DIR
from api.http.errors import PROBLEM_JSON
from api.services import banks, exams
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import Paper as PaperRow

Client = AsyncTestClient[Litestar]
AUTHOR = "13800000001"
OPERATOR = "13800000003"
LEARNER = "11010519491231002X"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def spec(**changes: Any) -> dict[str, Any]:
    """A spec on the demo bank: 11 items in two sections, no warnings."""
    body: dict[str, Any] = {
        "key": "公需-2026",
        "title": "公需科目考试",
        "bank": DEMO_BANK,
        "bank_version": 1,
        "sections": [
            {"title": "单选", "kind": "single", "count": 6, "points": 5},
            {"title": "判断", "kind": "true_false", "count": 5, "points": 4},
        ],
    }
    return {**body, **changes}


@pytest.fixture
def demo_bank(app_settings: Settings, add_user: Callable[..., None]) -> None:
    """The demo bank, published, in the app's database (add_user migrates it)."""
    with standalone_transaction(app_settings.database) as session:
        data = (DEMO_DIR / "bank.yaml").read_bytes()
        banks.import_file(session, data=data, source="bank.yaml", bank=DEMO_BANK, now=NOW)
        banks.publish(session, bank=DEMO_BANK, version=1, now=NOW)


async def sign_in(client: Client, login: str) -> Client:
    response = await client.post("/auth/login", json={"login": login, "password": "correct horse"})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture
async def author(app_client: Client, add_user: Callable[..., None], demo_bank: None) -> Client:
    add_user(AUTHOR, "author")
    add_user(OPERATOR, "operator")
    add_user(LEARNER, "learner")
    return await sign_in(app_client, AUTHOR)


async def test_a_spec_is_saved_as_a_draft_and_the_same_spec_again_changes_nothing(
    author: Client,
) -> None:
    first = await author.post("/api/exams", json=spec())
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["version"]["version"], body["version"]["state"]) == (1, "draft")
    assert (body["version"]["length"], body["unchanged"]) == (11, False)
    again = await author.post("/api/exams", json=spec(version=5))
    assert (again.json()["version"]["version"], again.json()["unchanged"]) == (1, True)


async def test_a_spec_that_cannot_be_assembled_is_422_with_every_problem_in_both_languages(
    author: Client,
) -> None:
    greedy = spec(
        sections=[
            {"title": "单选", "kind": "single", "count": 30},
            {"title": "全部", "count": 2},
        ]
    )
    response = await author.post("/api/exams", json=greedy)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["code"] == "spec_invalid"
    assert problem["detail"] == "exam '公需-2026' cannot be assembled: 2 problem(s)"
    assert problem["detail_zh"] == "试卷 '公需-2026' 无法组卷：2 个问题"
    codes = [(e["code"], e["where"]) for e in problem["errors"] if e["severity"] == "error"]
    assert codes == [
        ("not-enough-items", "section 1"),
        ("overlapping-sections", "sections 1 and 2"),
    ]
    first = problem["errors"][0]
    assert first["message"] == "section 1 (单选) asks for 30 single items, the bank has 11"
    assert first["message_zh"] == "第 1 大题（单选）需要 30 道单选试题，题库中只有 11 道"
    assert (await author.get("/api/exams")).json() == []


async def test_a_spec_of_the_wrong_shape_names_the_field(author: Client) -> None:
    bad = spec(sections=[{"title": "单选", "kind": "single", "count": 0}])
    response = await author.post("/api/exams", json=bad)
    assert response.status_code == 422
    assert "count" in response.text


async def test_the_live_check_always_answers_200_with_the_problems(author: Client) -> None:
    good = await author.post("/api/exams/validate", json=spec())
    assert good.status_code == 200, good.text
    assert good.json() == {"ok": True, "problems": []}

    short = await author.post(
        "/api/exams/validate",
        json=spec(sections=[{"title": "多选", "kind": "multiple", "count": 9}]),
    )
    assert short.status_code == 200
    assert short.json()["ok"] is False
    assert [p["code"] for p in short.json()["problems"]] == ["not-enough-items"]

    no_bank = await author.post("/api/exams/validate", json=spec(bank="无此题库"))
    assert no_bank.json()["problems"][0]["code"] == "bank-not-found"
    assert no_bank.json()["problems"][0]["message_zh"] == "题库 '无此题库' 不存在"

    shapeless = await author.post(
        "/api/exams/validate", json=spec(sections=[{"title": "x", "count": "many"}])
    )
    assert shapeless.status_code == 200
    problem = shapeless.json()["problems"][0]
    assert problem["code"] == "invalid-field"
    assert "$.sections[0].count" in problem["message"]
    assert "$.sections[0].count" in problem["message_zh"]
    assert (await author.get("/api/exams")).json() == []


async def test_publish_list_and_detail(author: Client) -> None:
    await author.post("/api/exams", json=spec())
    published = await author.post("/api/exams/公需-2026/versions/1/publish")
    assert published.status_code == 200, published.text
    assert published.json()["state"] == "published"
    await author.post("/api/exams", json=spec(title="新标题"))
    listed = (await author.get("/api/exams")).json()
    assert [(e["exam"], e["version"], e["state"]) for e in listed] == [("公需-2026", 2, "draft")]
    detail = (await author.get("/api/exams/公需-2026")).json()
    assert (detail["version"]["version"], detail["published"]) == (2, 1)
    assert detail["spec"]["title"] == "新标题"
    assert detail["spec"]["version"] == 2
    assert [v["state"] for v in detail["versions"]] == ["published", "draft"]


async def test_an_unknown_exam_or_version_is_404_in_both_languages(author: Client) -> None:
    missing = await author.get("/api/exams/无此考试")
    assert missing.status_code == 404
    assert (missing.json()["code"], missing.json()["detail_zh"]) == (
        "exam_not_found",
        "考试 '无此考试' 不存在",
    )
    await author.post("/api/exams", json=spec())
    no_version = await author.post("/api/exams/公需-2026/versions/3/publish")
    assert no_version.status_code == 404
    assert no_version.json()["detail"] == "exam '公需-2026' has no version 3"
    assert (await author.get("/api/exams/无此考试/sample-paper")).status_code == 404


async def test_a_sample_paper_shows_whole_items_in_paper_order(author: Client) -> None:
    await author.post("/api/exams", json=spec())
    response = await author.get("/api/exams/公需-2026/sample-paper", params={"learner": "测试"})
    assert response.status_code == 200, response.text
    paper = response.json()
    assert (paper["learner"], paper["attempt"], paper["version"]) == ("测试", 1, 1)
    assert len(paper["items"]) == 11
    first = paper["items"][0]
    assert first["section_title"] == "单选"
    assert first["item"]["body"]["options"]  # the whole item, key included
    assert sorted(first["order"]) == sorted(o["id"] for o in first["item"]["body"]["options"])
    again = await author.get("/api/exams/公需-2026/sample-paper", params={"learner": "测试"})
    assert again.json() == paper
    other = await author.get("/api/exams/公需-2026/sample-paper", params={"attempt": 2})
    assert other.json()["seed"] != paper["seed"]


async def test_the_audit_compares_the_stored_paper_with_its_rebuild(
    author: Client, app_settings: Settings
) -> None:
    await author.post("/api/exams", json=spec())
    await author.post("/api/exams/公需-2026/versions/1/publish")
    secret = app_settings.security.paper_secret.encode()
    with standalone_transaction(app_settings.database) as session:
        record = exams.build_or_get_paper(
            session, exam="公需-2026", learner=LEARNER, attempt=1, secret=secret, now=NOW
        )
    operator = await sign_in(author, OPERATOR)
    url = f"/api/exams/公需-2026/papers/{LEARNER}/1/audit"
    result = (await operator.get(url)).json()
    assert (result["status"], result["identical"], result["seed"]) == (
        "identical",
        True,
        record.paper.seed,
    )
    with standalone_transaction(app_settings.database) as session:
        session.execute(sa.update(PaperRow).values(seed="0" * 16))
    tampered = (await operator.get(url)).json()
    assert (tampered["status"], tampered["identical"]) == ("differs", False)
    assert tampered["differences"] == [f"seed column {'0' * 16} ≠ {record.paper.seed}"]
    none = (await operator.get(f"/api/exams/公需-2026/papers/{LEARNER}/2/audit")).json()
    assert none["status"] == "none"


async def test_papers_need_a_published_version(author: Client) -> None:
    await author.post("/api/exams", json=spec())
    operator = await sign_in(author, OPERATOR)
    response = await operator.get(f"/api/exams/公需-2026/papers/{LEARNER}/1/audit")
    assert response.status_code == 409
    assert response.json()["code"] == "exam_not_published"


async def test_publishing_on_an_unpublished_bank_version_is_409(
    author: Client, app_settings: Settings
) -> None:
    with standalone_transaction(app_settings.database) as session:
        text = (DEMO_DIR / "bank.yaml").read_text(encoding="utf-8")
        data = text.replace("60 学时", "六十学时").encode()
        banks.import_file(session, data=data, source="bank.yaml", bank=DEMO_BANK, now=NOW)
    await author.post("/api/exams", json=spec(bank_version=2))
    response = await author.post("/api/exams/公需-2026/versions/1/publish")
    assert response.status_code == 409
    assert response.json()["code"] == "bank_version_not_published"
    assert "请先发布该题库版本" in response.json()["detail_zh"]


async def test_a_learner_may_not_touch_specs_and_an_author_may_not_audit(
    author: Client,
) -> None:
    await author.post("/api/exams", json=spec())
    audit_url = f"/api/exams/公需-2026/papers/{LEARNER}/1/audit"
    assert (await author.get(audit_url)).status_code == 403
    learner = await sign_in(author, LEARNER)
    for method, url in [
        ("GET", "/api/exams"),
        ("POST", "/api/exams"),
        ("POST", "/api/exams/validate"),
        ("GET", "/api/exams/公需-2026/sample-paper"),
        ("GET", audit_url),
    ]:
        response = await learner.request(method, url, json=spec() if method == "POST" else None)
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "forbidden"


async def test_signed_out_is_401(app_client: Client) -> None:
    assert (await app_client.get("/api/exams")).status_code == 401
