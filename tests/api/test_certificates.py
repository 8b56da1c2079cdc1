"""Certificates over HTTP, with a manual clock: issued when a plan's hours are complete
and its exam passed (and not before), refreshed after a change of employer (the old one
superseded), revoked by an operator and by a regrade to a fail; /api/verify for every
state, an unknown and a malformed number and a record edited in the database; the PDF
(its Chinese text, an image of it in artifacts/records/, the offline check of it and of
doctored copies); the integrity log's entries; the rate limit; who may see what."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pypdf
import pypdfium2
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import Session, col, select

from api.app import create_app
from api.cli.main import main
from api.http.errors import PROBLEM_JSON
from api.services import accounts, attempts, banks, certificates, exams, keys, study
from api.services.certificate_pdf import render_pdf
from api.services.passwords import hash_password
from api.settings import DatabaseSettings, ExamSettings, RecordsSettings, Settings, StudySettings
from api.store.db import (
    make_engine,
    migrate,
    session_factory,
    standalone_transaction,
    transaction,
)
from api.store.tables import Certificate, Chapter, ChapterProgress, IntegrityEntry, User
from examengine import credit, integrity, records, signing
from examengine.clock import ManualClock
from examengine.ids import check_character

Client = AsyncTestClient[Litestar]
T0 = 1_795_000_000_000  # 2026-11-18, Beijing
PASSWORD = "certificate password 1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "records"


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


ZHANG, LI = resident_id("11010519800101123"), resident_id("11010519810202234")
SCHOOL, OTHER_SCHOOL = "重庆市第一中学", "重庆市第二中学"
BANK, EXAM = "证书题库", "2026-公需-考试"


def bank(correct: str) -> bytes:
    """One item, options 甲 (A) and 乙 (B), ``correct`` the right one."""
    options = ", ".join(
        f"{{text: {o}, correct: true}}" if o == correct else f"{{text: {o}}}" for o in "甲乙"
    )
    return (
        "format: examengine-bank\nitems:\n  - key: q1\n    kind: single\n    topic: t\n"
        f"    stem: 单选题\n    options: [{options}]\n"
    ).encode()


def course(key: str, hours: float) -> credit.Course:
    return credit.Course(
        key=key,
        title=key,
        chapters=(
            credit.Chapter(key=f"{key}-1", title="一", duration_ms=60_000, credit_hours=hours),
        ),
    )


PLAN = credit.Plan(
    key="2026-公需",
    title="2026 年度专业技术人员公需科目培训",
    year=2026,
    category="public",
    required_hours=1,
    elective_hours=0.5,
    exam=EXAM,
    courses=(
        credit.PlanCourse(required=True, course=course("法规", 1)),
        credit.PlanCourse(required=False, course=course("伦理", 0.5)),
    ),
)
NO_EXAM = credit.Plan(
    key="2026-讲座",
    title="2026 年度专题讲座",
    year=2026,
    category="professional",
    required_hours=2,
    elective_hours=0,
    courses=(credit.PlanCourse(required=True, course=course("讲座", 2)),),
)


@pytest.fixture(params=["sqlite", "postgres"])
def app_settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    """No background tasks (the test drives the clock); PostgreSQL too."""
    settings = settings_sqlite.replace(
        exam=ExamSettings(sweep_interval_ms=0),
        study=StudySettings(tick_interval_ms=0),
        records=msgspec.structs.replace(
            settings_sqlite.records, checkpoint_interval_ms=0, issuer="重庆市继续教育考试中心"
        ),
        security=msgspec.structs.replace(
            settings_sqlite.security, login_attempts_per_minute=10_000
        ),
    )
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
        settings = settings.replace(database=DatabaseSettings(url=url))
    return settings


@contextmanager
def unit(settings: Settings) -> Iterator[Session]:
    """A unit of work as the app runs one: its session holds the signing key."""
    engine = make_engine(settings.database)
    factory = session_factory(engine)
    certificates.bind(factory, settings.records)
    try:
        with transaction(factory) as session:
            yield session
    finally:
        engine.dispose()


def learner_id(session: Session, login: str) -> int:
    user = session.exec(select(User).where(User.login == login)).one()
    assert user.id is not None
    return user.id


def prepare(settings: Settings) -> None:
    """Two learners of two schools, their administrators, an operator; a bank, an exam
    (one item: 甲), the plan closing it (1 h required + 0.5 h elective) and a plan with
    no exam (2 h); 张三 enrolled in both, 李四 in the first."""
    migrate(settings.database.url)
    with unit(settings) as db:
        people = []
        for login, name, employer, roles, rid in (
            (ZHANG, "张三", SCHOOL, ["learner"], ZHANG),
            (LI, "李四", OTHER_SCHOOL, ["learner"], LI),
            ("admin1", "一中管理员", SCHOOL, ["employer_admin"], None),
            ("admin2", "二中管理员", OTHER_SCHOOL, ["employer_admin"], None),
            ("operator1", "运维", None, ["operator"], None),
        ):
            user = User(
                login=login,
                display_name=name,
                password_hash=hash_password(PASSWORD),
                roles=roles,
                must_change_password=False,
                resident_id=rid,
            )
            db.add(user)
            people.append((user, employer))
        accounts.employ_new(db, people, now_ms=T0 - 86_400_000, actor_id=None)
        banks.import_file(db, data=bank("甲"), source="b.yaml", bank=BANK, now=_dt(T0))
        banks.publish(db, bank=BANK, version=1, now=_dt(T0))
        spec = {
            "key": EXAM,
            "title": "公需科目考试",
            "bank": BANK,
            "bank_version": 1,
            "duration_s": 600,
            "shuffle_options": False,
            "sections": [{"title": "单选", "kind": "single", "count": 1, "points": 10}],
        }
        saved = exams.save_spec(db, exams.convert_spec(spec, source="spec"), now=_dt(T0))
        exams.publish(db, exam=EXAM, version=saved.version.version, now=_dt(T0))
        study.save_plan(db, PLAN, now=T0)
        study.save_plan(db, NO_EXAM, now=T0)
        for login, plans in ((ZHANG, (PLAN, NO_EXAM)), (LI, (PLAN,))):
            for plan in plans:
                study.enroll(db, learner_id=learner_id(db, login), plan=plan.key, now=T0)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def complete(settings: Settings, login: str, *chapters: str, now: int) -> None:
    """Credit ``chapters`` in full as the study ticker's batch would, then what it runs
    after a completion (``refresh_study_met``)."""
    with unit(settings) as db:
        who = learner_id(db, login)
        for key in chapters:
            chapter = db.exec(select(Chapter).where(Chapter.key == key)).one()
            assert chapter.id is not None
            db.add(
                ChapterProgress(
                    learner_id=who,
                    chapter_id=chapter.id,
                    cycle=1,
                    credited_ms=chapter.duration_ms,
                    position_ms=chapter.duration_ms,
                    updated_ms=now,
                    completed_ms=now,
                )
            )
        db.flush()
        study.refresh_study_met(db, learner_id=who, now=now)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def client(app_settings: Settings, clock: ManualClock) -> AsyncIterator[Client]:
    prepare(app_settings)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as test_client:
        yield test_client


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    reply = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    await client.get("/auth/me")
    client.headers["x-csrftoken"] = client.cookies.get("csrftoken", "")


async def sit(client: Client, answer: str) -> dict[str, Any]:
    """Start the exam, answer the one item, submit; the result."""
    started = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    paper = started.json()
    saves = [{"item": i["item"], "seq": 1, "response": answer} for i in paper["items"]]
    saved = await client.post(f"/api/attempts/{paper['attempt']}/answers", json=saves)
    assert saved.status_code == 200, saved.text
    done = await client.post(f"/api/attempts/{paper['attempt']}/submit", json={})
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result


async def mine(client: Client) -> list[dict[str, Any]]:
    reply = await client.get("/api/me/certificates")
    assert reply.status_code == 200, reply.text
    listed: list[dict[str, Any]] = reply.json()["certificates"]
    return listed


def problem(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = reply.json()
    assert body["code"] == code, body
    assert body["detail"] and body["detail_zh"]
    return body


def trusted(settings: Settings) -> dict[str, signing.VerifyKey]:
    return keys.published(settings.records)


# ------------------------------------------------------------------- the life of one


async def test_issued_after_the_hours_and_a_pass_superseded_by_a_move_then_revoked(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    await sign_in(client, ZHANG)
    assert await mine(client) == []
    # The required hour is credited, the elective half hour not; the exam was opened to
    # 张三 anyway (an enrolment with the study requirement waived, as the CLI can make).
    complete(app_settings, ZHANG, "法规-1", now=clock.advance(60_000))
    with unit(app_settings) as db:
        attempts.enroll(
            db, learner_id=learner_id(db, ZHANG), exam=EXAM, study_met=True, now=clock.now_ms()
        )
    assert (await sit(client, "A"))["passed"] is True
    assert await mine(client) == [], "passed, but the plan's elective hours are not complete"

    complete(app_settings, ZHANG, "伦理-1", now=clock.advance(60_000))
    [issued] = await mine(client)
    number = issued["number"]
    assert records.check_number(number) == number and number.startswith("2026-")
    assert (issued["state"], issued["cause"], issued["name"], issued["login"]) == (
        "current",
        "passed",
        "张三",
        ZHANG[:6] + "*" * 8 + ZHANG[-4:],
    )
    assert (
        issued["employer"],
        issued["plan_title"],
        issued["required_hours"],
        issued["elective_hours"],
        issued["result"],
        issued["issuer"],
    ) == (
        SCHOOL,
        PLAN.title,
        1.0,
        0.5,
        "passed",
        "重庆市继续教育考试中心",
    )
    assert issued["issued_ms"] == clock.now_ms()

    client.cookies.clear()  # /verify needs no login
    genuine = (await client.get(f"/api/verify/{number.lower().replace('-', '')}")).json()
    assert genuine == {
        "number": number,
        "genuine": True,
        "state": "current",
        "issued_ms": clock.now_ms(),
        "issued_on": "2026-11-18",
        "superseded_ms": None,
        "superseded_on": None,
        "revoked_ms": None,
        "revoked_on": None,
        "holder": {"name": "张三", "id_masked": issued["login"]},
        "certificate": {
            "plan_title": PLAN.title,
            "year": 2026,
            "category": "public",
            "category_zh": "公需科目",
            "required_hours": 1.0,
            "elective_hours": 0.5,
            "hours": 1.5,
            "result": "passed",
            "result_zh": "考核合格",
            "issuer": "重庆市继续教育考试中心",
        },
        "problem": None,
        "problem_zh": None,
        "keys": "/.well-known/examengine-keys.json",
    }
    assert SCHOOL not in str(genuine) and ZHANG not in str(genuine)

    # The operator moves 张三 to another school: a new certificate, the old superseded.
    await sign_in(client, "operator1")
    moved_at = clock.advance(3_600_000)
    moved = await client.put(f"/api/accounts/{ZHANG}/employer", json={"employer": OTHER_SCHOOL})
    assert moved.status_code == 200, moved.text
    await sign_in(client, ZHANG)
    new, old = await mine(client)
    assert (old["number"], old["state"], old["superseded_by"], old["superseded_ms"]) == (
        number,
        "superseded",
        new["number"],
        moved_at,
    )
    assert (new["state"], new["cause"], new["supersedes"], new["employer"], new["name"]) == (
        "current",
        "employer_changed",
        number,
        OTHER_SCHOOL,
        "张三",
    )
    assert new["number"] != number and new["issued_ms"] == moved_at
    superseded = (await client.get(f"/api/verify/{number}")).json()
    assert superseded == {
        "number": number,
        "genuine": True,
        "state": "superseded",
        "issued_ms": issued["issued_ms"],
        "issued_on": "2026-11-18",
        "superseded_ms": moved_at,
        "superseded_on": "2026-11-18",
        "revoked_ms": None,
        "revoked_on": None,
        "holder": None,
        "certificate": None,
        "problem": None,
        "problem_zh": None,
        "keys": "/.well-known/examengine-keys.json",
    }, "a superseded certificate says nothing personal and points nowhere"
    problem(await client.get(f"/api/me/certificates/{number}/pdf"), 409, "certificate_not_current")
    page = await client.get(f"/verify/{number}", params={"lang": "zh"})
    assert page.status_code == 200 and "已被替换，不再有效" in page.text
    # (The header names whoever is signed in — here 张三 himself: only the page's body counts.)
    body = page.text.split('<main id="main"', 1)[1]
    assert "张三" not in body and new["number"] not in body

    # The operator revokes the new one, with a reason: /verify says revoked and when.
    await sign_in(client, "operator1")
    problem(
        await client.post(
            f"/api/operator/certificates/{new['number']}/revoke", json={"reason": "   "}
        ),
        422,
        "reason_required",
    )
    problem(
        await client.post(
            f"/api/operator/certificates/{new['number']}/revoke", json={"reason": "x" * 501}
        ),
        422,
        "validation_failed",
    )
    revoked_at = clock.advance(60_000)
    revoked = await client.post(
        f"/api/operator/certificates/{new['number']}/revoke", json={"reason": "材料造假"}
    )
    assert revoked.status_code == 200, revoked.text
    assert (
        revoked.json()["state"],
        revoked.json()["revoked_reason"],
        revoked.json()["revoked_by"],
    ) == ("revoked", "材料造假", "运维")
    problem(
        await client.post(
            f"/api/operator/certificates/{new['number']}/revoke", json={"reason": "again"}
        ),
        409,
        "certificate_not_current",
    )
    problem(
        await client.post(f"/api/operator/certificates/{number}/revoke", json={"reason": "old"}),
        409,
        "certificate_not_current",
    )
    said = (await client.get(f"/api/verify/{new['number']}")).json()
    assert (said["genuine"], said["state"], said["revoked_ms"], said["holder"]) == (
        True,
        "revoked",
        revoked_at,
        None,
    )
    assert "材料造假" not in str(said), "the reason stays internal"
    await sign_in(client, ZHANG)
    assert (await mine(client))[0]["revoked_reason"] == "材料造假"  # the holder is told why

    # Every step is in 张三's integrity log, chained.
    with unit(app_settings) as db:
        who = learner_id(db, ZHANG)
        entries = db.exec(
            select(IntegrityEntry)
            .where(IntegrityEntry.learner_id == who)
            .order_by(col(IntegrityEntry.seq))
        ).all()
    mine_only = [(e.kind, e.ref) for e in entries if e.kind.startswith("certificate_")]
    assert mine_only == [
        ("certificate_issued", f"certificate:{number}"),
        ("certificate_issued", f"certificate:{new['number']}"),
        ("certificate_superseded", f"certificate:{number}"),
        ("certificate_revoked", f"certificate:{new['number']}"),
    ]
    revoked_data = msgspec.json.decode(entries[-1].data)
    assert revoked_data == {
        "number": new["number"],
        "plan": PLAN.key,
        "reason": "材料造假",
        "by_id": revoked_data["by_id"],
    }
    assert integrity.first_break([_entry(e) for e in entries], learner=who) is None


def _entry(row: IntegrityEntry) -> integrity.Entry:
    return integrity.Entry(
        learner=row.learner_id,
        seq=row.seq,
        at_ms=row.at_ms,
        kind=row.kind,
        ref=row.ref,
        data=row.data,
        prev=row.prev,
        hash=row.hash,
    )


async def test_a_plan_without_an_exam_is_certified_when_its_hours_are_complete(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, ZHANG, "讲座-1", now=clock.advance(1_000))
    with unit(app_settings) as db:  # another completion later: nothing more
        study.refresh_study_met(db, learner_id=learner_id(db, ZHANG), now=clock.advance(1_000))
    await sign_in(client, ZHANG)
    [issued] = await mine(client)
    assert (issued["plan"], issued["result"], issued["cause"], issued["year"]) == (
        NO_EXAM.key,
        "completed",
        "completed",
        2026,
    )


async def test_a_regrade_to_a_fail_revokes_and_a_regrade_back_issues_anew(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, LI, "法规-1", "伦理-1", now=clock.advance(1_000))
    await sign_in(client, LI)
    result = await sit(client, "A")
    [issued] = await mine(client)
    # The key was wrong: 乙 is right. The regrade turns the pass into a fail.
    with unit(app_settings) as db:
        outcome = banks.import_file(
            db, data=bank("乙"), source="b.yaml", bank=BANK, now=_dt(clock.now_ms())
        )
        banks.publish(db, bank=BANK, version=outcome.version.version, now=_dt(clock.now_ms()))
    attempts.ITEMS.clear()
    await sign_in(client, "operator1")
    regraded = await client.post(
        f"/api/operator/attempts/{result['attempt']}/regrade", json={"reason": "答案有误"}
    )
    assert regraded.status_code == 200 and regraded.json()["passed"] is False, regraded.text
    said = (await client.get(f"/api/verify/{issued['number']}")).json()
    assert (said["state"], said["revoked_ms"]) == ("revoked", clock.now_ms())
    with unit(app_settings) as db:
        row = db.get(Certificate, issued["number"])
        assert row is not None
        assert (row.revoked_reason, row.revoked_by_id) == (certificates.REGRADED, None)
        assert "成绩复核" in certificates.REGRADED
    # A regrade back to a pass (the key fixed again) issues a new certificate.
    with unit(app_settings) as db:
        outcome = banks.import_file(
            db, data=bank("甲"), source="b.yaml", bank=BANK, now=_dt(clock.now_ms())
        )
        banks.publish(db, bank=BANK, version=outcome.version.version, now=_dt(clock.now_ms()))
    attempts.ITEMS.clear()
    clock.advance(1_000)
    again = await client.post(
        f"/api/operator/attempts/{result['attempt']}/regrade", json={"reason": "恢复"}
    )
    assert again.json()["passed"] is True
    await sign_in(client, LI)
    states = [(c["state"], c["cause"]) for c in await mine(client)]
    assert states == [("current", "passed"), ("revoked", "passed")]


# ------------------------------------------------------------------------ /verify


async def test_verify_tells_unknown_malformed_and_edited_records_apart(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, ZHANG, "讲座-1", now=clock.advance(1_000))
    with unit(app_settings) as db:
        row = db.exec(select(Certificate)).one()
        number, kid = row.number, row.kid
    unknown = records.make_number(2026, 42)
    body = problem(await client.get(f"/api/verify/{unknown}"), 404, "certificate_not_found")
    assert body["detail_zh"] == f"没有编号为 {unknown} 的证书"
    typo = number[:-1] + ("0" if number[-1] != "0" else "1")
    body = problem(await client.get(f"/api/verify/{typo}"), 422, "certificate_number")
    assert body["errors"] == [
        {
            "field": "certificate",
            "source": "path",
            "message": "certificate: its check character does not match: a character is "
            "mistyped or two are swapped (a certificate number looks like 2026-7K3M-Q9XD-4TZP)",
        }
    ]
    assert body["detail_zh"].startswith("证书编号（certificate）：校验位不符")
    body = problem(await client.get("/api/verify/2026-ABC"), 422, "certificate_number")
    assert "it has 7 letters and digits, not 16" in body["detail"]

    # Someone edits the stored record (another name): the signature no longer holds.
    with unit(app_settings) as db:
        row = db.get(Certificate, number)
        assert row is not None
        row.payload = row.payload.replace("张三", "王五")
        db.add(row)
    forged = (await client.get(f"/api/verify/{number}")).json()
    assert (forged["genuine"], forged["state"], forged["holder"], forged["certificate"]) == (
        False,
        "current",
        None,
        None,
    )
    assert forged["problem"] == f"the signature by {kid} does not match the signed content"
    assert forged["problem_zh"] == f"密钥 {kid} 的签名与证书内容不符"
    page = await client.get(f"/verify/{number}", params={"lang": "zh"})
    assert page.status_code == 200 and "不是真实证书" in page.text
    assert f"密钥 {kid} 的签名与证书内容不符" in page.text and "王五" not in page.text
    # A record signed by a key this deployment never published.
    with unit(app_settings) as db:
        row = db.get(Certificate, number)
        assert row is not None
        stranger = signing.SigningKey.from_secret("a key of somebody else " + "q" * 20)
        row.payload = row.payload.replace("王五", "张三")
        signed = records.sign(stranger, row.payload)
        row.kid, row.sig = signed.kid, signed.sig
        db.add(row)
    foreign = (await client.get(f"/api/verify/{number}")).json()
    assert foreign["problem"] == (
        f"signed by key {stranger.kid}, which is not among the trusted keys"
    )
    jwks = (await client.get("/.well-known/examengine-keys.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [kid]
    assert signing.keys_of(jwks) == trusted(app_settings)


async def test_lookups_are_limited_per_address_with_retry_after(
    app_settings: Settings, clock: ManualClock
) -> None:
    settings = app_settings.replace(
        records=msgspec.structs.replace(app_settings.records, verify_per_minute=3)
    )
    prepare(settings)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        number = records.make_number(2026, 7)
        for _ in range(2):
            assert (await client.get(f"/api/verify/{number}")).status_code == 404
        assert (await client.get(f"/verify/{number}")).status_code == 404  # the page counts
        assert (await client.get("/verify")).status_code == 200  # the bare form does not
        refused = await client.get(f"/api/verify/{number}")
        body = problem(refused, 429, "rate_limited")
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 60
        assert body["detail"] == (
            f"Too many certificate lookups from your address; try again in {wait} s."
        )
        assert body["detail_zh"] == f"您所在网络查询证书过于频繁，请 {wait} 秒后再试。"
        page = await client.get(f"/verify/{number}?lang=en")
        assert page.status_code == 429 and page.headers["retry-after"]
        assert "Too many lookups" in page.text and "text/html" in page.headers["content-type"]
        # Signed-in use elsewhere is not held up.
        assert (await client.get("/.well-known/examengine-keys.json")).status_code == 200


# ---------------------------------------------------------------------- the PDF


async def test_the_pdf_prints_the_chinese_fields_and_checks_offline(
    client: Client,
    clock: ManualClock,
    app_settings: Settings,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    complete(app_settings, ZHANG, "法规-1", "伦理-1", now=clock.advance(1_000))
    await sign_in(client, ZHANG)
    await sit(client, "A")
    [issued] = await mine(client)
    reply = await client.get(f"/api/me/certificates/{issued['number']}/pdf")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf"
    assert f"certificate-{issued['number']}.pdf" in reply.headers["content-disposition"]
    data = reply.content
    text = "".join(pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    for shown in (
        "继续教育培训合格证书",
        "张三",
        ZHANG[:6] + "********" + ZHANG[-4:],
        SCHOOL,
        "2026年度专业技术人员公需科目培训",
        "公需科目",
        "必修1学时，选修0.5学时，合计1.5学时",
        "考核合格",
        issued["number"],
        "2026年11月18日",
        "重庆市继续教育考试中心",
    ):
        assert shown in text, shown
    assert ZHANG not in text, "the whole ID number is never printed"
    assert certificates.check_pdf(data, trusted(app_settings)) == []
    # An image of page 1 for people to look at.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    backend = request.node.callspec.params["app_settings"]
    image = pypdfium2.PdfDocument(data)[0].render(scale=2).to_pil()
    image.save(ARTIFACTS / f"certificate-{backend}.png")
    assert image.size == (1684, 1191)  # A4 landscape (842 × 595.3 pt) at 144 dpi
    # The same record makes the same PDF (reportlab's invariant mode).
    assert (await client.get(f"/api/me/certificates/{issued['number']}/pdf")).content == data

    # Doctored copies are caught, each with what is wrong.
    reader = pypdf.PdfReader(io.BytesIO(data))
    envelope = records.unseal(str((reader.metadata or {})["/Keywords"]))
    kid = envelope.kid
    # 1. The signed record in the metadata edited (another name), the page left alone.
    edited = msgspec.structs.replace(envelope, record=envelope.record.replace("张三", "王五"))
    assert certificates.check_pdf(
        with_keywords(data, signing.b64url(signing.canonical(edited))), trusted(app_settings)
    ) == [
        f"the signature by {kid} does not match the signed content",
        "the page does not show the signed name '王五'",
    ]
    # 2. The page redrawn with another name and employer, the genuine record put back in.
    record = records.decode(envelope.record)
    fake = records.encode(msgspec.structs.replace(record, name="王五", employer="伪造单位"))
    redrawn = render_pdf(fake, signing.Signed(kid=kid, sig=envelope.sig), verify_url="x")
    assert certificates.check_pdf(
        with_keywords(redrawn, reader.metadata["/Keywords"]), trusted(app_settings)
    ) == [
        "the page does not show the signed name '张三'",
        f"the page does not show the signed employer '{SCHOOL}'",
    ]
    # 3. Signed by a key that is not this deployment's; 4. no record; 5. not a PDF.
    stranger = signing.SigningKey.from_secret("a key of somebody else " + "q" * 20)
    theirs = records.seal(envelope.record, records.sign(stranger, envelope.record))
    assert certificates.check_pdf(with_keywords(data, theirs), trusted(app_settings)) == [
        f"signed by key {stranger.kid}, which is not among the trusted keys"
    ]
    assert certificates.check_pdf(with_keywords(data, ""), trusted(app_settings)) == [
        "the PDF carries no signed certificate record (its /Keywords are empty)"
    ]
    assert certificates.check_pdf(b"%PDF-1.4 not really", trusted(app_settings))[0].startswith(
        "not a readable PDF: "
    )
    # The reviewer's command, offline, with the published key set saved to a file.
    folder = tmp_path_factory.mktemp("offline")
    (folder / "keys.json").write_bytes(
        (await client.get("/.well-known/examengine-keys.json")).content
    )
    (folder / "genuine.pdf").write_bytes(data)
    (folder / "redrawn.pdf").write_bytes(with_keywords(redrawn, reader.metadata["/Keywords"]))
    keys_file = ["--keys", str(folder / "keys.json")]
    checked = CliRunner().invoke(main, ["audit", "verify", str(folder / "genuine.pdf"), *keys_file])
    assert checked.exit_code == 0, checked.output
    assert "is a genuine certificate, signed and printed as signed" in checked.output
    failed = CliRunner().invoke(main, ["audit", "verify", str(folder / "redrawn.pdf"), *keys_file])
    assert failed.exit_code == 1
    assert "the page does not show the signed name '张三'" in failed.output


def with_keywords(data: bytes, keywords: str) -> bytes:
    """``data`` with its /Keywords replaced (how a forger moves a signed record)."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Keywords": keywords})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_an_edited_log_entry_of_a_certificate_is_found(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, ZHANG, "讲座-1", now=clock.advance(1_000))
    with unit(app_settings) as db:
        who = learner_id(db, ZHANG)
        row = db.exec(
            select(IntegrityEntry).where(IntegrityEntry.kind == "certificate_issued")
        ).one()
        row.data = row.data.replace('"completed"', '"passed"')
        db.add(row)
        db.flush()
        entries = db.exec(
            select(IntegrityEntry)
            .where(IntegrityEntry.learner_id == who)
            .order_by(col(IntegrityEntry.seq))
        ).all()
        found = integrity.first_break([_entry(e) for e in entries], learner=who)
    assert found is not None
    assert (found.seq, found.problem, found.detail) == (
        row.seq,
        "changed",
        f"entry {row.seq} (certificate_issued) was changed after it was written: its content "
        "no longer matches its hash",
    )


# ------------------------------------------------------------------ who sees what


async def test_each_role_sees_the_certificates_it_may_and_no_others(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, ZHANG, "讲座-1", now=clock.advance(1_000))
    complete(app_settings, LI, "法规-1", "伦理-1", now=clock.advance(1_000))
    await sign_in(client, LI)
    await sit(client, "A")
    [li] = await mine(client)
    await sign_in(client, ZHANG)
    [zhang] = await mine(client)
    # A learner: their own only; another's is not there (404, as an unknown number).
    problem(
        await client.get(f"/api/me/certificates/{li['number']}/pdf"), 404, "certificate_not_found"
    )
    problem(await client.get("/api/operator/certificates"), 403, "forbidden")
    problem(await client.get("/api/employer/certificates"), 403, "forbidden")
    # An administrator: their staff's; another school's are not there.
    await sign_in(client, "admin1")
    staff = (await client.get("/api/employer/certificates")).json()
    assert [c["number"] for c in staff["certificates"]] == [zhang["number"]]
    assert staff["certificates"][0]["revoked_reason"] is None
    by_name = (await client.get("/api/employer/certificates", params={"q": "李四"})).json()
    assert by_name["total"] == 0
    pdf = await client.get(f"/api/employer/certificates/{zhang['number']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    problem(
        await client.get(f"/api/employer/certificates/{li['number']}/pdf"),
        404,
        "certificate_not_found",
    )
    problem(await client.get(f"/api/operator/certificates/{li['number']}"), 403, "forbidden")
    problem(
        await client.post(
            f"/api/operator/certificates/{li['number']}/revoke", json={"reason": "x"}
        ),
        403,
        "forbidden",
    )
    # An operator: everyone's, searched by number, name, ID number, plan, employer, state.
    await sign_in(client, "operator1")
    for query, expected in (
        ({}, {zhang["number"], li["number"]}),
        ({"q": li["number"].lower()}, {li["number"]}),
        ({"q": "张"}, {zhang["number"]}),
        ({"q": LI}, {li["number"]}),
        ({"q": "专题讲座"}, {zhang["number"]}),
        ({"employer": OTHER_SCHOOL}, {li["number"]}),
        ({"status": "revoked"}, set()),
    ):
        found = (await client.get("/api/operator/certificates", params=query)).json()
        assert {c["number"] for c in found["certificates"]} == expected, query
    detail = (await client.get(f"/api/operator/certificates/{li['number']}")).json()
    assert detail["verification"]["genuine"] is True
    assert [c["number"] for c in detail["history"]] == [li["number"]]
    assert (await client.get(f"/api/operator/certificates/{li['number']}/pdf")).status_code == 200
    # Anyone: the public check and the keys, without signing in.
    client.cookies.clear()
    assert (await client.get(f"/api/verify/{li['number']}")).status_code == 200
    problem(await client.get("/api/me/certificates"), 401, "not_authenticated")


async def test_the_pages_list_my_certificates_and_verify_without_a_login(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    complete(app_settings, ZHANG, "讲座-1", now=clock.advance(1_000))
    await sign_in(client, ZHANG)
    page = await client.get("/learner/certificates")
    assert page.status_code == 200 and "我的证书" in page.text and NO_EXAM.title in page.text
    [issued] = await mine(client)
    await sign_in(client, "operator1")
    ops = await client.get("/operator/certificates", params={"q": "张三"})
    assert ops.status_code == 200 and issued["number"] in ops.text
    client.cookies.clear()
    shown = await client.get(f"/verify/{issued['number']}")
    assert shown.status_code == 200 and "真实有效" in shown.text and "张三" in shown.text
    assert SCHOOL not in shown.text and ZHANG not in shown.text
    english = await client.get(f"/verify/{issued['number']}", params={"lang": "en"})
    assert "Genuine and current" in english.text
    typed = await client.get(
        "/verify", params={"number": issued["number"].lower()}, follow_redirects=False
    )
    assert typed.status_code == 302 and typed.headers["location"] == f"/verify/{issued['number']}"
    bad = await client.get("/verify", params={"number": "2026-xyz", "lang": "zh"})
    assert bad.status_code == 422 and "编号有误" in bad.text
    missing = await client.get(f"/verify/{records.make_number(2026, 1)}")
    assert missing.status_code == 404 and "未找到证书" in missing.text


def test_issuing_waits_for_a_key_and_the_learner_gets_it_when_they_look(
    app_settings: Settings,
) -> None:
    """A unit of work without the signing key (a command-line sweep) issues nothing; the
    learner's own list issues what is due."""
    prepare(app_settings)
    with standalone_transaction(app_settings.database) as db:
        who = learner_id(db, ZHANG)
        chapter = db.exec(select(Chapter).where(Chapter.key == "讲座-1")).one()
        assert chapter.id is not None
        db.add(
            ChapterProgress(
                learner_id=who,
                chapter_id=chapter.id,
                cycle=1,
                credited_ms=chapter.duration_ms,
                completed_ms=T0,
            )
        )
        db.flush()
        study.refresh_study_met(db, learner_id=who, now=T0)
        assert db.exec(select(Certificate)).all() == []
    with unit(app_settings) as db:
        certificates.issue_due(db, learner_id=who, now=T0 + 1)
        certificates.issue_due(db, learner_id=who, now=T0 + 2)  # idempotent
        [row] = db.exec(select(Certificate)).all()
        assert (row.state, row.issued_ms, row.cause) == ("current", T0 + 1, "completed")


def test_a_rename_refreshes_and_nothing_changes_without_a_change(app_settings: Settings) -> None:
    prepare(app_settings)
    complete(app_settings, ZHANG, "讲座-1", now=T0)
    with unit(app_settings) as db:
        who = learner_id(db, ZHANG)
        assert certificates.refresh(db, learner_id=who, cause="name_changed", now=T0 + 1) == []
        user = db.get(User, who)
        assert user is not None
        user.display_name = "张叁"
        db.add(user)
        [new] = certificates.refresh(db, learner_id=who, cause="name_changed", now=T0 + 2)
        row = db.get(Certificate, new)
        assert row is not None
        assert (records.decode(row.payload).name, row.cause) == ("张叁", "name_changed")
        settings = RecordsSettings(signing_secret=app_settings.records.signing_secret)
        shown = certificates.public_view(db, number=new, trusted=keys.published(settings))
        assert shown.holder == certificates.Holder(
            name="张叁", id_masked=ZHANG[:6] + "*" * 8 + ZHANG[-4:]
        )


def test_a_configured_seal_image_is_printed_instead_of_the_drawn_one(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw  # noqa: PLC0415

    seal = tmp_path / "seal.png"
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((5, 5, 195, 195), outline=(200, 0, 0, 255), width=8)
    image.save(seal)
    key = signing.SigningKey.from_secret("seal image test secret " + "s" * 20)
    text = records.encode(
        records.Record(
            number=records.make_number(2026, 5),
            name="张三",
            id_masked="110105********002X",
            employer="",
            plan="p",
            plan_title="计划",
            year=2026,
            category="public",
            required_hours=1.0,
            elective_hours=0.0,
            result="passed",
            exam="e",
            issuer="继续教育考试中心",
            issued_ms=T0,
        )
    )
    signed = records.sign(key, text)
    drawn = render_pdf(text, signed, verify_url="https://exam.example.cn/verify/x")
    stamped = render_pdf(
        text, signed, verify_url="https://exam.example.cn/verify/x", seal_image=seal
    )
    assert b"/Subtype /Image" in stamped and b"/Subtype /Image" not in drawn
    assert certificates.check_pdf(stamped, {key.kid: key.verify_key}) == []
    # A seal file that cannot be read: the drawn seal, never a failed download.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert render_pdf(text, signed, verify_url="x", seal_image=broken).startswith(b"%PDF")
