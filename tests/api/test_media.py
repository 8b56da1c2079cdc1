"""A bank's images over HTTP (decision 0032): imported with a Moodle XML file, rendered
into the learner's paper as ``/media/<sha256>``, and served only to those who may see
an item that shows them — the learner whose paper has it, authors and operators — with
long private cache headers; everyone else, and any image no visible item shows, 404.
An image over the limit refuses the import with a 422 naming the file in zh and en."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.app import create_app
from api.services import attempts, banks, exams
from api.settings import DatabaseSettings, Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import BankMedia, User
from itembank import formats, media
from tests.unit.itembank.test_media import file_element, png

Client = AsyncTestClient[Litestar]

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LEARNER, OTHER, AUTHOR, PROCTOR, OPERATOR = (
    "11010519491231002X", "13800000011", "13800000001", "13800000002", "13800000003",
)  # fmt: skip
BANK, EXAM = "图片题库", "图片考试"
STEM_IMAGE, KEY_IMAGE = png(40, 20, (200, 30, 30)), png(8, 8, (0, 120, 0))
STEM_SHA = hashlib.sha256(STEM_IMAGE).hexdigest()
KEY_SHA = hashlib.sha256(KEY_IMAGE).hexdigest()


STEM = '<p><strong>看图 {n}</strong>：<img src="@@PLUGINFILE@@/stem.png" alt="电路图"></p>'


def bank_file(stem_image: bytes = STEM_IMAGE, more: str = "") -> bytes:
    """Two single-choice items: each stem shows the stem image in bold text (then
    ``more``); the explanation (the key's part) shows another image."""
    questions = "".join(
        f"""<question type="multichoice"><name><text>pic-{n}</text></name>
  <questiontext format="html"><text><![CDATA[{STEM.format(n=n)}{more}]]></text>
  {file_element("stem.png", stem_image)}</questiontext>
  <generalfeedback format="html"><text><![CDATA[<img src="@@PLUGINFILE@@/key.png">]]></text>
  {file_element("key.png", KEY_IMAGE)}</generalfeedback>
  <single>true</single>
  <answer fraction="100"><text>甲</text></answer><answer fraction="0"><text>乙</text></answer>
</question>"""
        for n in (1, 2)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><quiz>{questions}</quiz>'.encode()


SPEC: dict[str, Any] = {
    "key": EXAM, "title": "图片考试", "bank": BANK, "bank_version": 1, "duration_s": 600,
    "show_key_after_close": True,
    "sections": [{"title": "单选", "kind": "single", "count": 1, "points": 10}],
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def app_settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    """On SQLite and on PostgreSQL (bytea, the LIKE of the learner's check)."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
        return settings_sqlite.replace(database=DatabaseSettings(url=url))
    return settings_sqlite


@pytest.fixture
async def client(app_settings: Settings, add_user: Callable[..., None]) -> AsyncIterator[Client]:
    for login, role in ((LEARNER, "learner"), (OTHER, "learner"), (AUTHOR, "author"),
                        (PROCTOR, "proctor"), (OPERATOR, "operator")):  # fmt: skip
        add_user(login, role)
    migrate(app_settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    async with AsyncTestClient(app=create_app(app_settings)) as test_client:
        yield test_client


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    answer = await client.post("/auth/login", json={"login": login, "password": "correct horse"})
    assert answer.status_code == 200, answer.text
    await client.get("/auth/me")  # the CSRF token's cookie, for the upload
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]


async def import_bank(client: Client, data: bytes) -> Any:
    await sign_in(client, AUTHOR)
    return await client.post(
        f"/api/banks/{BANK}/import", files={"file": ("bank.xml", data)}, data={"format": "moodle"}
    )


def publish_and_enroll(settings: Settings) -> None:
    with standalone_transaction(settings.database) as db:
        banks.publish(db, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(db, exams.convert_spec(SPEC, source="spec"), now=NOW)
        exams.publish(db, exam=EXAM, version=saved.version.version, now=NOW)
        for login in (LEARNER, OTHER):
            user = db.exec(select(User).where(User.login == login)).one()
            assert user.id is not None
            attempts.enroll(db, learner_id=user.id, exam=EXAM, study_met=True, now=1)


async def test_imported_images_are_stored_once_and_shown_only_to_who_may_see_them(
    client: Client, app_settings: Settings
) -> None:
    imported = await import_bank(client, bank_file())
    assert imported.status_code == 201, imported.text
    with standalone_transaction(app_settings.database) as db:
        stored = db.exec(select(BankMedia)).all()
        assert sorted((m.sha256, m.mime, m.size) for m in stored) == sorted(
            [(STEM_SHA, "image/png", len(STEM_IMAGE)), (KEY_SHA, "image/png", len(KEY_IMAGE))]
        )
    publish_and_enroll(app_settings)

    # the author sees the bank's images
    author = await client.get(f"/media/{STEM_SHA}")
    assert author.status_code == 200, author.text
    assert author.content == STEM_IMAGE and author.headers["content-type"] == "image/png"
    assert author.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert author.headers["x-content-type-options"] == "nosniff"

    # the learner's paper carries the stem rendered, the image at its URL
    await sign_in(client, LEARNER)
    started = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    (item,) = started.json()["items"]
    assert f'<img src="/media/{STEM_SHA}" alt="电路图">' in item["stem_html"]
    assert "<strong>看图" in item["stem_html"] and "@@PLUGINFILE@@" not in item["stem_html"]
    assert [o["text_html"] for o in item["options"]] == ["甲", "乙"]
    assert KEY_SHA not in started.text  # the explanation's image is not on the paper
    mine = await client.get(f"/media/{STEM_SHA}")
    assert mine.status_code == 200 and mine.content == STEM_IMAGE

    # the exam page shows it too
    page = await client.get(f"/learner/attempts/{started.json()['attempt']}")
    assert f'src="/media/{STEM_SHA}"' in page.text and "<strong>看图" in page.text

    # passed and closed, the review shows the stem and the explanation with their images
    url = f"/api/attempts/{started.json()['attempt']}"
    answer = [{"item": item["item"], "seq": 1, "response": "A"}]
    assert (await client.post(f"{url}/answers", json=answer)).status_code == 200
    done = await client.post(f"{url}/submit", json={})
    assert done.json()["passed"] is True, done.text
    (review,) = done.json()["items"]
    assert f'src="/media/{STEM_SHA}"' in review["stem_html"]
    result = await client.get(f"/learner/attempts/{started.json()['attempt']}/result")
    assert f'src="/media/{STEM_SHA}"' in result.text and f'src="/media/{KEY_SHA}"' in result.text
    assert (await client.get(f"/media/{KEY_SHA}")).status_code == 200

    # another learner (enrolled, no paper yet), a proctor, nobody: 404 / 401
    await sign_in(client, OTHER)
    assert (await client.get(f"/media/{STEM_SHA}")).status_code == 404
    await sign_in(client, PROCTOR)
    assert (await client.get(f"/media/{STEM_SHA}")).status_code == 404
    await sign_in(client, OPERATOR)
    assert (await client.get(f"/media/{KEY_SHA}")).status_code == 200
    client.cookies.clear()
    assert (await client.get(f"/media/{STEM_SHA}")).status_code == 401

    # an image that does not exist, and a malformed hash
    await sign_in(client, AUTHOR)
    missing = await client.get(f"/media/{'0' * 64}")
    assert missing.status_code == 404 and missing.json()["detail_zh"]
    bad = await client.get("/media/not-a-hash")
    assert bad.status_code == 422 and "sha256" in bad.json()["detail"]


async def test_an_image_over_the_limit_refuses_the_import_naming_the_file(client: Client) -> None:
    too_big = STEM_IMAGE + b"\x00" * media.MAX_IMAGE_BYTES
    refused = await import_bank(client, bank_file(stem_image=too_big))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "import_refused"
    errors = [e for e in problem["errors"] if e["code"] == "media_too_large"]
    assert errors and "stem.png" in errors[0]["message"] and "stem.png" in errors[0]["message_zh"]
    assert (await client.get("/api/banks/")).json() == []


async def test_an_export_carries_the_bank_s_images_or_says_it_cannot(client: Client) -> None:
    imported = await import_bank(client, bank_file())
    assert imported.status_code == 201, imported.text

    # Moodle XML and QTI write the images into the file: a re-import brings them back
    # (QTI has no place for the explanation, so its image is reported lost with it)
    for fmt, carried in (("moodle", {STEM_SHA, KEY_SHA}), ("qti", {STEM_SHA})):
        exported = await client.get(f"/api/banks/{BANK}/export", params={"format": fmt})
        assert exported.status_code == 200, exported.text
        parsed = formats.get(fmt).parse(exported.content)
        images = {STEM_SHA: STEM_IMAGE, KEY_SHA: KEY_IMAGE}
        assert {m.sha256: m.data for m in parsed.media} == {s: images[s] for s in carried}
        losses = await client.get(f"/api/banks/{BANK}/export/losses", params={"format": fmt})
        lost = [w for w in losses.json()["warnings"] if "images" in w["message"]]
        assert bool(lost) == (fmt == "qti"), losses.text
        assert all("explanation" in w["message"] for w in lost)

    # GIFT cannot: each item is reported as losing its images, in zh and en
    losses = await client.get(f"/api/banks/{BANK}/export/losses", params={"format": "gift"})
    assert losses.status_code == 200, losses.text
    lost = [w for w in losses.json()["warnings"] if "images" in w["message"]]
    assert sorted(w["item_key"] for w in lost) == ["pic-1", "pic-2"]
    assert all("图片" in w["message_zh"] for w in lost)
