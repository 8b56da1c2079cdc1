"""The authoring API, as a course team uses it: upload and lint, import all-or-nothing,
browse, edit into new versions, publish, export, diff, item analysis."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.http.errors import PROBLEM_JSON
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import BankVersion, ItemResponse
from itembank import formats
from itembank.model import Item

Client = AsyncTestClient[Litestar]
AUTHOR = "13800000001"
LEARNER = "11010519491231002X"

GOOD_GIFT = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~60 学时 ~30 学时}

::law-2:: 公需科目学时可以完全替代专业科目学时。{FALSE}

::law-3:: 数字经济中最关键的生产要素是____。{=数据 =数据要素}
""".encode()

BAD_GIFT = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~90 学时 ~30 学时}

::law-2:: 未闭合的答案块 {=甲 ~乙
""".encode()


@pytest.fixture
async def author(app_client: Client, add_user: Callable[..., None]) -> Client:
    add_user(AUTHOR, "author")
    response = await app_client.post(
        "/auth/login", json={"login": AUTHOR, "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    # The uploads are form posts: they carry Litestar's CSRF token, as the pages do.
    await app_client.get("/auth/me")  # a GET sets the token's cookie
    app_client.headers["x-csrftoken"] = app_client.cookies["csrftoken"]
    return app_client


def upload(name: str, data: bytes, **fields: str) -> dict[str, object]:
    return {"files": {"file": (name, data)}, "data": fields}


async def test_linting_an_upload_reports_every_problem_with_its_line_in_both_languages(
    author: Client,
) -> None:
    response = await author.post("/api/banks/lint", **upload("bank.gift", BAD_GIFT))
    assert response.status_code == 200
    report = response.json()
    assert (report["format"], report["errors"]) == ("gift", 2)
    found = {(p["line"], p["code"]) for p in report["problems"]}
    assert found == {(3, "duplicate-option"), (5, "syntax")}
    duplicate = next(p for p in report["problems"] if p["code"] == "duplicate-option")
    assert duplicate["message"] == "options A and B read the same: '90 学时'"
    assert duplicate["message_zh"] == "选项 A 与 B 内容相同：'90 学时'"
    assert duplicate["file"] == "bank.gift"


async def test_an_import_with_an_error_is_refused_whole_and_stores_nothing(
    author: Client,
) -> None:
    response = await author.post("/api/banks/公需/import", **upload("bank.gift", BAD_GIFT))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["code"] == "import_refused"
    assert problem["detail"] == "bank.gift: 2 error(s); nothing was imported"
    assert problem["detail_zh"] == "bank.gift：发现 2 个错误，未导入任何试题"
    assert sorted(e["line"] for e in problem["errors"]) == [3, 5]
    assert (await author.get("/api/banks/")).json() == []


async def test_an_import_makes_a_draft_and_the_same_file_again_changes_nothing(
    author: Client,
) -> None:
    first = await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["version"]["version"] == 1
    assert body["version"]["state"] == "draft"
    assert body["version"]["item_count"] == 3
    assert body["unchanged"] is False
    again = await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    assert again.json()["unchanged"] is True
    assert again.json()["version"]["version"] == 1


async def test_a_file_of_unknown_type_is_refused_with_a_message_naming_it(
    author: Client,
) -> None:
    response = await author.post("/api/banks/lint", **upload("bank.docx", b"PK\x03\x04"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "unreadable_upload"
    assert "bank.docx" in problem["detail"]
    assert "bank.docx" in problem["detail_zh"]


async def test_items_can_be_searched_by_chinese_text_topic_and_kind(author: Client) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    found = (await author.get("/api/banks/公需/items", params={"q": "生产要素"})).json()
    assert [i["key"] for i in found["items"]] == ["law-3"]
    by_kind = (await author.get("/api/banks/公需/items", params={"kind": "true_false"})).json()
    assert [i["key"] for i in by_kind["items"]] == ["law-2"]
    page = (await author.get("/api/banks/公需/items", params={"limit": 2, "offset": 2})).json()
    assert (page["total"], len(page["items"])) == (3, 1)
    by_topic = (await author.get("/api/banks/公需/items", params={"topic": "政策法规"})).json()
    assert by_topic["total"] == 3


async def test_editing_a_published_version_makes_a_new_draft_and_diff_shows_it(
    author: Client,
) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    published = await author.post("/api/banks/公需/versions/1/publish")
    assert published.json()["state"] == "published"
    item = (await author.get("/api/banks/公需/items/law-2")).json()
    item["stem"] = "公需科目学时不能替代专业科目学时。"
    item["body"]["answer"] = True
    edited = await author.put("/api/banks/公需/items/law-2", json=item)
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["state"]) == (2, "draft")
    old = (await author.get("/api/banks/公需/items/law-2", params={"version": 1})).json()
    assert old["stem"] == "公需科目学时可以完全替代专业科目学时。"
    diff = (await author.get("/api/banks/公需/diff", params={"old": 1, "new": 2})).json()
    assert diff == {
        "added": [],
        "removed": [],
        "changed": [{"key": "law-2", "fields": ["stem", "body"]}],
    }
    # A second edit goes into the same draft.
    item["topic"] = "法治建设"
    again = await author.put("/api/banks/公需/items/law-2", json=item)
    assert again.json()["version"] == 2


async def test_publishing_twice_is_harmless_and_an_unknown_version_is_404(author: Client) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    assert (await author.post("/api/banks/公需/versions/1/publish")).status_code == 200
    assert (await author.post("/api/banks/公需/versions/1/publish")).status_code == 200
    missing = await author.post("/api/banks/公需/versions/9/publish")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "bank '公需' has no version 9"
    assert missing.json()["detail_zh"] == "题库 '公需' 没有第 9 版"


async def test_an_edit_with_an_error_is_refused_with_the_lint_problems(author: Client) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    item = (await author.get("/api/banks/公需/items/law-1")).json()
    for option in item["body"]["options"]:
        option["fraction"] = 0.0
    response = await author.put("/api/banks/公需/items/law-1", json=item)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_item"
    assert [e["code"] for e in problem["errors"]] == ["missing-key"]
    assert problem["errors"][0]["message_zh"] == "单选题没有正确选项"


async def test_an_edit_of_the_wrong_shape_names_the_field(author: Client) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    response = await author.put("/api/banks/公需/items/law-1", json={"stem": 5, "body": {}})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "stem" in response.text


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
async def test_a_version_exports_in_every_format_and_reads_back(author: Client, fmt: str) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    response = await author.get("/api/banks/公需/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    parsed = formats.get(fmt).parse(response.content, source=f"export.{fmt}")
    if fmt == "aiken":  # Aiken holds single choice only; the others are left out
        assert [p.item.stem for p in parsed.items] == [
            "专业技术人员每年参加继续教育不少于多少学时？"
        ]
    else:
        assert parsed.ok, parsed.problems
        assert {p.item.stem.strip() for p in parsed.items} >= {
            "公需科目学时可以完全替代专业科目学时。"
        }


async def test_the_losses_of_an_export_are_named_item_by_item_in_both_languages(
    author: Client,
) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    native = await author.get("/api/banks/公需/export/losses", params={"format": "native"})
    assert native.status_code == 200, native.text
    assert native.json() == {"format": "native", "version": 1, "items": 3, "warnings": []}
    aiken = (await author.get("/api/banks/公需/export/losses", params={"format": "aiken"})).json()
    by_key = {w["item_key"]: w for w in aiken["warnings"]}
    assert by_key["law-1"]["code"] == "export-loss"
    assert by_key["law-1"]["message"].startswith("item 'law-1': Aiken cannot carry its key, topic")
    assert by_key["law-2"]["message_zh"] == "试题 'law-2'（判断题）无法以 Aiken 格式导出，已略去"
    unknown = await author.get("/api/banks/公需/export/losses", params={"format": "docx"})
    assert unknown.status_code == 422  # as the export itself: the field is named
    assert "format" in unknown.text


async def test_item_analysis_reads_the_stored_responses(
    author: Client, app_settings: Settings
) -> None:
    await author.post("/api/banks/公需/import", **upload("bank.gift", GOOD_GIFT))
    with standalone_transaction(app_settings.database) as db:
        version_id = db.exec(select(BankVersion.id)).one()
        for learner in range(40):
            right = learner % 4 != 0
            db.add(
                ItemResponse(
                    bank_version_id=version_id,
                    item_key="law-1",
                    learner_ref=f"L{learner}",
                    response="A" if right else "B",
                    score=1.0 if right else 0.0,
                    max_score=1.0,
                )
            )
            db.add(
                ItemResponse(
                    bank_version_id=version_id,
                    item_key="law-2",
                    learner_ref=f"L{learner}",
                    response=right,
                    score=1.0 if learner % 2 else 0.0,
                    max_score=1.0,
                )
            )
    stats = (await author.get("/api/banks/公需/stats")).json()
    law1 = next(s for s in stats["item_stats"] if s["key"] == "law-1")
    assert (law1["responses"], law1["facility"]) == (40, 0.75)
    assert law1["option_counts"] == [30, 10, 0]
    assert law1["unused_options"] == [2]
    assert "unused_distractor" in law1["flags"]
    assert stats["learners"] == 40


async def test_authoring_needs_an_author_and_a_session(
    app_client: Client, add_user: Callable[..., None]
) -> None:
    anonymous = await app_client.get("/api/banks/")
    assert anonymous.status_code == 401
    add_user(LEARNER, "learner")
    await app_client.post("/auth/login", json={"login": LEARNER, "password": "correct horse"})
    forbidden = await app_client.get("/api/banks/")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"


def test_items_on_the_wire_are_the_model_items() -> None:
    item = msgspec.json.decode(
        b'{"key":"k","stem":"s","body":{"type":"true_false","answer":true}}', type=Item
    )
    assert item.kind.value == "true_false"
