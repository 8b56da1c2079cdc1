"""The registration card over HTTP: hours from stored study progress (the ticker's write
path), each study in its plan's year, results from real formal attempts (passed with
score and certificate number, failed, not taken, studying, credited), each year's total
against the requirement of the employer's region; the PDF (text and a rendered page),
the workbook, an employer's archive and its limit, and who may read whose card."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pypdfium2
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import col, select

from api.app import create_app
from api.services import attempts, banks, exams, study
from api.services import card as cards
from api.services.passwords import hash_password
from api.settings import Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import Certificate, Employer, User
from api.store.tables import Chapter as ChapterRow
from api.store.tables import Plan as PlanRow
from examengine import credit
from examengine.clock import ManualClock, year_of
from examengine.ids import check_character, masked
from tests.server import ROOT

Client = AsyncTestClient[Litestar]
PASSWORD = "card password 1"
#: 2026-11-18 in Beijing: the study of the year is done, the exam season on.
T0 = 1_795_000_000_000
DAY = 86_400_000
EXAM, BANK = "卡-公需考试", "卡-判断题库"
PUBLIC, PROFESSIONAL, PAST = "2026-公需", "2026-专业", "2025-公需"
RECORDS = ROOT / "artifacts" / "records"


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


LI, WANG, ZHAO, QIAN, OTHER = (resident_id(f"1101011990030712{n}") for n in range(1, 6))


def course(key: str, title: str, hours: float, chapters: int = 1) -> credit.Course:
    return credit.Course(key=key, title=title, chapters=tuple(
        credit.Chapter(key=f"{key}-{n}", title=f"第{n}章", duration_ms=60_000,
                       credit_hours=hours / chapters)
        for n in range(1, chapters + 1)
    ))  # fmt: skip


def plans() -> list[credit.Plan]:
    """2026's public plan (10 h required + 20 h elective, an exam), 2026's professional
    one (60 h, no exam) and 2025's public one (30 h, no exam: catch-up study)."""
    return [
        credit.Plan(
            key=PUBLIC, title="2026 年公需科目：数字经济与创新", year=2026, category="public",
            required_hours=10, elective_hours=20, exam=EXAM,
            courses=(credit.PlanCourse(course=course("c-law", "法治建设", 10), required=True),
                     credit.PlanCourse(course=course("c-dig", "数字经济", 20, 2),
                                       required=False)),
        ),
        credit.Plan(
            key=PROFESSIONAL, title="2026 年专业科目：建筑工程新技术", year=2026,
            category="professional", required_hours=60, elective_hours=0,
            courses=(credit.PlanCourse(course=course("c-bim", "BIM 技术应用", 60, 2),
                                       required=True),),
        ),
        credit.Plan(
            key=PAST, title="2025 年公需科目（补学）", year=2025, category="public",
            required_hours=30, elective_hours=0,
            courses=(credit.PlanCourse(course=course("c-old", "职业道德", 30), required=True),),
        ),
    ]  # fmt: skip


def true_false_bank() -> bytes:
    lines = ["format: examengine-bank", "items:"]
    for n in range(4):
        lines += [f"  - key: tf{n}", "    kind: true_false", "    topic: t",
                  f"    stem: 判断题 {n}", "    answer: true"]  # fmt: skip
    return "\n".join(lines).encode()


SPEC = {
    "key": EXAM, "title": "2026 年度公需科目考试", "bank": BANK, "bank_version": 1,
    "duration_s": 600, "pass_mark": 0.6,
    "sections": [{"title": "判断题", "kind": "true_false", "count": 4, "points": 25}],
}  # fmt: skip


def world(settings: Settings) -> None:
    """Two employers (一中; 二中 in 上海市), five learners, two administrators and an
    operator; the three plans and the exam."""
    migrate(settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    now = datetime.fromtimestamp(T0 / 1000 - 30 * 86_400, UTC)
    with standalone_transaction(settings.database) as db:
        banks.import_file(db, data=true_false_bank(), source="b.yaml", bank=BANK, now=now)
        banks.publish(db, bank=BANK, version=1, now=now)
        saved = exams.save_spec(db, exams.convert_spec(SPEC, source="spec"), now=now)
        exams.publish(db, exam=EXAM, version=saved.version.version, now=now)
        for plan in plans():
            study.save_plan(db, plan, now=T0 - 30 * DAY)
        db.add(Employer(name="二中", region="上海市"))
        for login, name, employer, gender in (
            (LI, "李四", "一中", "female"),
            (WANG, "王五", "一中", "male"),
            (ZHAO, "赵六", "一中", "male"),
            (QIAN, "钱七", "一中", None),
            (OTHER, "孙八", "二中", "male"),
        ):
            db.add(User(login=login, display_name=name, password_hash=hash_password(PASSWORD),
                        roles=["learner"], must_change_password=False, resident_id=login,
                        employer=employer, gender=gender))  # fmt: skip
        for login, roles, employer in (
            ("admin1", ["employer_admin"], "一中"),
            ("admin2", ["employer_admin"], "二中"),
            ("operator1", ["operator"], None),
        ):
            db.add(User(login=login, display_name=f"staff {login}", roles=roles,
                        password_hash=hash_password(PASSWORD), must_change_password=False,
                        employer=employer))  # fmt: skip


def user_id(settings: Settings, login: str) -> int:
    with standalone_transaction(settings.database) as db:
        found = db.exec(select(User.id).where(User.login == login)).one()
        assert found is not None
        return found


def enroll(settings: Settings, login: str, *keys: str) -> None:
    learner = user_id(settings, login)
    with standalone_transaction(settings.database) as db:
        for key in keys:
            study.enroll(db, learner_id=learner, plan=key, now=T0 - 20 * DAY)


def complete(settings: Settings, login: str, *chapters: str, at: int) -> None:
    """The chapters studied to the end: what the study ticker stores (credit, the
    completion, the integrity events), through the same ``persist``."""
    learner = user_id(settings, login)
    with standalone_transaction(settings.database) as db:
        ids = dict(db.exec(select(ChapterRow.key, ChapterRow.id)
                           .where(col(ChapterRow.key).in_(chapters))).all())  # fmt: skip
        grants = tuple(study.Grant(learner=learner, chapter_id=ids[c], cycle=1,
                                   credited_ms=60_000, position_ms=60_000, completed_ms=at)
                       for c in chapters)  # fmt: skip
        events = tuple(
            study.StoredEvent(learner=learner, chapter_id=ids[c], cycle=1,
                              event=credit.ChapterCompleted(learner=learner, chapter=c,
                                                            at_ms=at, credited_ms=60_000))
            for c in chapters
        )  # fmt: skip
        study.persist(db, study.Batch(now=at, grants=grants, events=events))


def certificate(settings: Settings, login: str, plan: str, number: str) -> str:
    """A current certificate ``number`` of the learner's ``plan``, stored directly (one
    the certificates' issuer stored first is superseded by it): the card reads the
    table, whoever wrote it."""
    learner = user_id(settings, login)
    with standalone_transaction(settings.database) as db:
        plan_id = db.exec(select(PlanRow.id).where(PlanRow.key == plan)).one()
        assert plan_id is not None
        for issued in db.exec(select(Certificate).where(
            Certificate.learner_id == learner, Certificate.plan_id == plan_id,
            Certificate.state == "current",
        )).all():  # fmt: skip
            issued.state, issued.superseded_by, issued.superseded_ms = "superseded", number, T0
            db.add(issued)
        db.flush()
        db.add(Certificate(
            number=number, learner_id=learner, plan_id=plan_id, year=2026, payload="{}",
            kid="k", sig="s", issued_ms=T0, cause="reissued",
        ))  # fmt: skip
        return number


PUBLIC_CHAPTERS = ("c-law-1", "c-dig-1", "c-dig-2")
PROFESSIONAL_CHAPTERS = ("c-bim-1", "c-bim-2")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def client(app_settings: Settings, clock: ManualClock) -> AsyncIterator[Client]:
    world(app_settings)
    async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as test_client:
        yield test_client


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    reply = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text


async def sit(client: Client, clock: ManualClock, answer: bool) -> None:
    """A formal attempt at the exam, every item answered ``answer`` (True: all right)."""
    started = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    paper = started.json()
    saves = [{"item": i["item"], "seq": n, "response": answer}
             for n, i in enumerate(paper["items"], start=1)]  # fmt: skip
    saved = await client.post(f"/api/attempts/{paper['attempt']}/answers", json=saves)
    assert saved.status_code == 200, saved.text
    clock.advance(60_000)
    submitted = await client.post(f"/api/attempts/{paper['attempt']}/submit")
    assert submitted.status_code == 200, submitted.text
    clock.advance(60_000)


async def li_studies_and_passes(client: Client, settings: Settings, clock: ManualClock) -> str:
    """李四: the 2026 public plan studied and its exam passed (a certificate issued), the
    professional plan studied, 2025's plan caught up. Returns the certificate's number."""
    enroll(settings, LI, PUBLIC, PROFESSIONAL, PAST)
    complete(settings, LI, "c-law-1", at=T0 - 10 * DAY)
    complete(settings, LI, "c-dig-1", "c-dig-2", at=T0 - 9 * DAY)
    complete(settings, LI, *PROFESSIONAL_CHAPTERS, at=T0 - 8 * DAY)
    complete(settings, LI, "c-old-1", at=T0 - 7 * DAY)
    await sign_in(client, LI)
    await sit(client, clock, answer=True)
    return certificate(settings, LI, PUBLIC, "CQ2026000123")


def year_of_card(body: dict[str, Any], year: int) -> dict[str, Any]:
    found: dict[str, Any] = next(y for y in body["years"] if y["year"] == year)
    return found


# ----------------------------------------------------------------------- the card


async def test_each_study_counts_in_its_plans_year_and_the_year_totals_against_90(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    number = await li_studies_and_passes(client, app_settings, clock)
    reply = await client.get("/api/me/card")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["name"], body["login"], body["employer"]) == ("李四", masked(LI), "一中")
    assert LI not in reply.text  # the whole ID number never leaves
    assert [y["year"] for y in body["years"]] == [2026, 2025]  # newest first
    this = year_of_card(body, 2026)
    assert (this["public_hours"], this["professional_hours"], this["recorded_hours"]) == (
        30,
        60,
        90,
    )
    assert (this["required_hours"], this["shortfall_hours"], this["met"]) == (90, 0, True)
    public, professional = this["studies"]  # public subjects first
    assert (public["plan"], public["category"], public["recorded_hours"]) == (PUBLIC, "public", 30)
    assert public["result"] == {
        "outcome": "passed", "score": 100.0, "max_score": 100.0, "at_ms": T0 + 60_000,
        "attempts": 1, "certificate": number,
    }  # fmt: skip
    assert public["studied_from_ms"] == T0 - 10 * DAY  # the first study event
    assert public["met_ms"] == T0 - 9 * DAY  # the electives completed it
    assert (professional["result"]["outcome"], professional["recorded_hours"]) == ("credited", 60)
    # 2025's plan, studied this year (catch-up), counts for 2025 alone.
    past = year_of_card(body, 2025)
    assert [s["plan"] for s in past["studies"]] == [PAST]
    assert (past["recorded_hours"], past["shortfall_hours"], past["met"]) == (30, 60, False)
    one = (await client.get("/api/me/card", params={"year": 2025})).json()
    assert [y["year"] for y in one["years"]] == [2025]


async def test_results_say_failed_not_taken_studying_and_record_nothing_until_finished(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    # 王五 studied the public plan and failed both attempts; 赵六 studied it and has not sat
    # the exam; 钱七 has begun (the required course only) and studies the professional plan.
    enroll(app_settings, WANG, PUBLIC)
    complete(app_settings, WANG, *PUBLIC_CHAPTERS, at=T0 - 5 * DAY)
    enroll(app_settings, ZHAO, PUBLIC)
    complete(app_settings, ZHAO, *PUBLIC_CHAPTERS, at=T0 - 5 * DAY)
    enroll(app_settings, QIAN, PUBLIC, PROFESSIONAL)
    complete(app_settings, QIAN, "c-law-1", "c-bim-1", at=T0 - 5 * DAY)
    await sign_in(client, WANG)
    await sit(client, clock, answer=False)
    await sit(client, clock, answer=False)

    async def only_year(login: str) -> dict[str, Any]:
        await sign_in(client, login)
        reply = await client.get("/api/me/card", params={"year": 2026})
        assert reply.status_code == 200, reply.text
        return year_of_card(reply.json(), 2026)

    wang = await only_year(WANG)
    (line,) = wang["studies"]
    assert line["result"]["outcome"] == "failed"
    assert (line["result"]["score"], line["result"]["attempts"]) == (0.0, 2)
    assert (line["credited_hours"], line["recorded_hours"]) == (30, 0)
    assert (wang["recorded_hours"], wang["shortfall_hours"], wang["met"]) == (0, 90, False)
    zhao = await only_year(ZHAO)
    assert zhao["studies"][0]["result"]["outcome"] == "not_taken"
    qian = await only_year(QIAN)
    assert [(s["plan"], s["result"]["outcome"], s["credited_hours"], s["met_ms"])
            for s in qian["studies"]] == [(PUBLIC, "studying", 10, None),
                                          (PROFESSIONAL, "studying", 0, None)]  # fmt: skip


async def test_a_regions_requirement_and_the_employer_of_the_year(
    app_settings: Settings, clock: ManualClock
) -> None:
    settings = app_settings.replace(
        study=msgspec.structs.replace(app_settings.study, yearly_hours_by_region=(("上海市", 72),))
    )
    world(settings)
    enroll(settings, OTHER, PROFESSIONAL)
    complete(settings, OTHER, *PROFESSIONAL_CHAPTERS, at=T0 - DAY)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        await sign_in(client, OTHER)
        this = year_of_card((await client.get("/api/me/card")).json(), 2026)
        assert (this["employer"], this["required_hours"]) == ("二中", 72)
        assert (this["recorded_hours"], this["shortfall_hours"], this["met"]) == (60, 12, False)
        await sign_in(client, LI)  # 一中 names no region: the national 90
        assert year_of_card((await client.get("/api/me/card")).json(), 2026)["required_hours"] == 90


async def test_a_bad_year_is_refused_naming_the_field(client: Client) -> None:
    await sign_in(client, LI)
    for bad in ("1999", "2101", "二〇二六", "2026.5"):
        reply = await client.get("/api/me/card", params={"year": bad})
        assert reply.status_code == 422, (bad, reply.text)
        problem = reply.json()
        assert problem["errors"][0]["field"] == "year"
        assert "year" in problem["detail"] and "year" in problem["detail_zh"]
    wrong = await client.get("/api/me/card", params={"format": "docx"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "format"


# ------------------------------------------------------------------ the documents


async def test_the_workbook_reads_back_with_the_studies_and_the_years(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    number = await li_studies_and_passes(client, app_settings, clock)
    reply = await client.get("/api/me/card", params={"format": "xlsx"})
    assert reply.status_code == 200
    assert "attachment" in reply.headers["content-disposition"]
    assert "2026" not in reply.headers["content-disposition"]  # every year
    book = load_workbook(io.BytesIO(reply.content))
    card_rows = list(book["登记卡"].iter_rows(values_only=True))
    assert card_rows[1][:4] == ("姓名 Name", "李四", "身份证号 ID number", masked(LI))
    header = card_rows.index(tuple(cards.STUDY_HEADER))
    studies = {r[2]: r for r in card_rows[header + 1 :]}
    public = studies["2026 年公需科目：数字经济与创新"]
    assert public[:2] == (2026, "公需科目")
    assert public[4:10] == (30, 30, 30, "合格 Passed", 100, number)
    assert studies["2025 年公需科目（补学）"][0] == 2025
    totals = list(book["年度合计"].iter_rows(values_only=True))
    assert totals[0] == tuple(cards.YEAR_HEADER)
    assert totals[1] == (2026, "一中", 30, 60, 0, 90, 90, 0, "是 yes")
    assert totals[2] == (2025, "一中", 30, 0, 0, 30, 90, 60, "否 no")


def pdf_text(data: bytes) -> str:
    """The text of every page without white space (table cells wrap a title in two)."""
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return "".join(pages.split())


def flat(text: str) -> str:
    return "".join(text.split())


def render_first_page(data: bytes, name: str) -> Path:
    """Page 1 as a PNG (and the PDF beside it) under artifacts/records, to look at."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    (RECORDS / f"{name}.pdf").write_bytes(data)
    document = pypdfium2.PdfDocument(data)
    try:
        image = document[0].render(scale=2).to_pil()
        target = RECORDS / f"{name}.png"
        image.save(target)
    finally:
        document.close()
    return target


async def test_the_pdf_shows_the_chinese_fields_and_renders(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    number = await li_studies_and_passes(client, app_settings, clock)
    reply = await client.get("/api/me/card", params={"format": "pdf", "year": 2026})
    assert (reply.status_code, reply.headers["content-type"]) == (200, "application/pdf")
    assert "2026.pdf" in reply.headers["content-disposition"]
    png = render_first_page(reply.content, "card-2026")
    text = pdf_text(reply.content)
    for expected in ("专业技术人员继续教育学时登记卡", "李四", masked(LI), "一中",
                     "2026 年公需科目：数字经济与创新", "2026 年专业科目：建筑工程新技术",
                     "公需科目 30 学时", "专业科目 60 学时", "已达到年度要求 90 学时",
                     number, "考核验证意见", app_settings.records.issuer):  # fmt: skip
        assert flat(expected) in text, expected
    assert LI not in text and flat("2025 年公需科目") not in text  # one year asked
    reader = PdfReader(io.BytesIO(reply.content))
    fonts = reader.pages[0]["/Resources"]["/Font"].get_object()  # type: ignore[index]
    cjk = [f.get_object() for f in fonts.values()
           if "WenQuanYi" in str(f.get_object()["/BaseFont"])]  # fmt: skip
    assert cjk and "/FontFile2" in cjk[0]["/FontDescriptor"]  # embedded: no system font needed
    assert reader.metadata is not None and reader.metadata.title == "继续教育学时登记卡 李四"
    assert png.stat().st_size > 20_000
    every = await client.get("/api/me/card", params={"format": "pdf"})
    all_text = pdf_text(every.content)
    assert flat("2025 年公需科目（补学）") in all_text and flat("尚差 60 学时") in all_text
    render_first_page(every.content, "card-all-years")


# ---------------------------------------------------------------------- the archive


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_an_employer_downloads_its_staffs_cards_in_one_archive(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    number = await li_studies_and_passes(client, app_settings, clock)
    await sign_in(client, "admin1")
    reply = await client.get("/api/employer/cards.zip", params={"year": 2026})
    assert (reply.status_code, reply.headers["content-type"]) == (200, "application/zip")
    assert "2026.zip" in reply.headers["content-disposition"]
    files = read_zip(reply.content)
    pdfs = sorted(n for n in files if n.endswith(".pdf"))
    staff = sorted(["李四", "王五", "赵六", "钱七"])
    assert len(pdfs) == 4 and "汇总-2026.xlsx" in files
    li_file = cards.file_safe(f"学时登记卡-李四-{masked(LI)}-2026") + ".pdf"
    assert li_file in pdfs and "＊" in li_file and "*" not in li_file
    assert "李四" in pdf_text(files[li_file]) and number in pdf_text(files[li_file])
    sheet = load_workbook(io.BytesIO(files["汇总-2026.xlsx"])).active
    assert sheet is not None
    summary = list(sheet.iter_rows(values_only=True))
    assert summary[0][:2] == ("姓名 Name", "身份证号 ID number")
    assert sorted(r[0] for r in summary[1:]) == staff
    li = next(r for r in summary[1:] if r[0] == "李四")
    assert li[1:10] == (masked(LI), "一中", 30, 60, 0, 90, 90, 0, "是 yes")
    assert li[11] == li_file
    assert "孙八" not in str(summary)  # another employer's learner

    # The staff list's filters choose the same people.
    async def listed(**params: str) -> list[str]:
        names = (await client.get("/api/employer/staff", params=params)).json()["staff"]
        return sorted(m["name"] for m in names)

    async def archived(**params: str) -> list[str]:
        got = await client.get("/api/employer/cards.zip", params={"year": 2026, **params})
        assert got.status_code == 200, got.text
        rows = load_workbook(io.BytesIO(read_zip(got.content)["汇总-2026.xlsx"])).active
        assert rows is not None
        return sorted(str(r[0]) for r in list(rows.iter_rows(values_only=True))[1:])

    for params in ({"q": "李"}, {"plan": PUBLIC}, {"plan": "-"}, {"account": "activated"},
                   {"q": "nobody"}):  # fmt: skip
        assert await archived(**params) == await listed(**params), params
    assert await archived(plan="-") == ["王五", "赵六", "钱七"]
    nobody = read_zip((await client.get("/api/employer/cards.zip", params={"q": "nobody"})).content)
    assert list(nobody) == [f"汇总-{year_of(T0)}.xlsx"]  # the current year by default


async def test_an_archive_of_too_many_staff_is_refused_suggesting_a_filter(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cards, "MAX_ARCHIVE", 3)
    await sign_in(client, "admin1")
    reply = await client.get("/api/employer/cards.zip")
    assert reply.status_code == 422
    problem = reply.json()
    assert problem["errors"][0]["field"] == "q" and problem["errors"][0]["code"] == "too_many_staff"
    assert "at most 3 people" in problem["detail"] and "selected 4" not in problem["detail"]
    assert "select 4" in problem["detail"] and "narrow" in problem["detail"]
    assert "筛选条件" in problem["detail_zh"] and "最多 3 人" in problem["detail_zh"]
    assert (await client.get("/api/employer/cards.zip", params={"q": "李"})).status_code == 200
    schema = (await client.get("/schema/openapi.json")).json()
    described = schema["paths"]["/api/employer/cards.zip"]["get"]["description"]
    assert "At most 200 people per archive" in described  # the declared limit (not patched)


# ---------------------------------------------------------------- who reads whose


async def test_an_administrator_reads_their_own_staffs_cards_only_and_operators_anyones(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    await li_studies_and_passes(client, app_settings, clock)
    await sign_in(client, "admin1")
    own = await client.get(f"/api/accounts/{LI}/card", params={"year": 2026})
    assert own.status_code == 200 and own.json()["name"] == "李四"
    pdf = await client.get(f"/api/accounts/{LI}/card", params={"format": "pdf"})
    assert pdf.status_code == 200 and "李四" in pdf_text(pdf.content)
    for login in (OTHER, "admin2", "nobody"):  # another employer's, staff, no one: alike
        other = await client.get(f"/api/accounts/{login}/card")
        assert (other.status_code, other.json()["code"]) == (404, "account_not_found"), login
    assert (await client.get("/api/me/card")).status_code == 403  # no learner role
    await sign_in(client, "admin2")
    assert (await client.get(f"/api/accounts/{LI}/card")).status_code == 404
    names = read_zip(
        (await client.get("/api/employer/cards.zip", params={"employer": "一中"})).content
    )
    assert all("李四" not in n for n in names)  # an administrator's own employer, whatever named
    await sign_in(client, LI)
    assert (await client.get(f"/api/accounts/{LI}/card")).status_code == 403
    assert (await client.get("/api/employer/cards.zip")).status_code == 403
    await sign_in(client, "operator1")
    assert (await client.get(f"/api/accounts/{OTHER}/card")).json()["name"] == "孙八"
    unnamed = await client.get("/api/employer/cards.zip")
    assert (unnamed.status_code, unnamed.json()["errors"][0]["field"]) == (422, "employer")
    named = await client.get("/api/employer/cards.zip", params={"employer": "二中"})
    assert [n for n in read_zip(named.content) if n.endswith(".pdf")] == [
        cards.file_safe(f"学时登记卡-孙八-{masked(OTHER)}-{year_of(T0)}") + ".pdf"
    ]


# ------------------------------------------------------------------------ the pages


async def test_the_learners_page_in_chinese_and_english(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    number = await li_studies_and_passes(client, app_settings, clock)
    page = await client.get("/learner/card")
    assert page.status_code == 200
    html = page.text
    for expected in ("学时登记卡", "李四", masked(LI), "2026 年度", "2025 年度", "90 / 90 学时",
                     "已达到年度要求", "尚差 60 学时", f"证书编号：{number}", "合格",
                     "学时已认定", 'href="/api/me/card?format=pdf"'):  # fmt: skip
        assert expected in html, expected
    assert LI not in html
    assert 'href="/learner/card" aria-current="page"' in html  # the learner's navigation
    one = (await client.get("/learner/card", params={"year": 2025})).text
    assert "2025 年公需科目（补学）" in one and "2026 年专业科目" not in one
    assert 'href="/api/me/card?year=2025&amp;format=pdf"' in one
    english = (await client.get("/learner/card", params={"lang": "en"})).text
    for expected in ("Registration card", "Year 2026", "90 of 90 hours", "Passed",
                     "Hours credited", "60 hours short", f"Certificate no. {number}"):  # fmt: skip
        assert expected in english, expected


async def test_the_employer_reaches_a_staff_members_card_from_the_list(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    await li_studies_and_passes(client, app_settings, clock)
    await sign_in(client, "admin1")
    staff = (await client.get("/employer")).text
    assert f'href="/employer/staff/{LI}/card"' in staff
    page = await client.get(f"/employer/staff/{LI}/card")
    assert page.status_code == 200 and "李四的学时登记卡" in page.text
    assert f'href="/api/accounts/{LI}/card?format=pdf"' in page.text
    other = await client.get(f"/employer/staff/{OTHER}/card")
    assert other.status_code == 404 and "本单位没有使用该身份证号或手机号的学员" in other.text
    await sign_in(client, "operator1")
    looked = await client.get("/operator/card", params={"login": OTHER})
    assert looked.status_code == 200 and "孙八" in looked.text
    missing = await client.get("/operator/card", params={"login": "nobody"})
    assert missing.status_code == 404 and "没有使用该身份证号或手机号的账号" in missing.text
