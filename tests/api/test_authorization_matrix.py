"""The authorization matrix: every endpoint of the app × every role × the caller's own
resource or another's → the status it answers, against the real app (SQLite) with real
signed-in clients.

The table below is the whole of it. Its rows are generated from nothing: the test reads
the app's routes and fails when a route has no row (a new endpoint must say who may call
it) or a row names no route. A cell is one status, or ``own/other`` where the row's path
names a resource that belongs to someone:

- ``{attempt}``: the learner's own attempt / another learner's (each open, on the demo
  exam); for staff both are "some learner's attempt" and the cell is one status.
- ``{login}``: a learner of the employer administrator's own employer / of another
  employer (for operators both are just accounts).
- ``{token}``: a study session of the learner's own / another learner's.

Each role runs its rows in table order against a world of its own (a fresh database
with the demo data, two learners of two employers, an open attempt and a study session
each), so a row that closes something (submit, terminate, logout) is placed after the
rows that need it open. Write requests carry a body the handler accepts where that is
cheap, otherwise a body it refuses (422): a refusal of the body shows the caller got
past the guards, which is what this table is about. A 302 must also go where ``HOME``
says (the anonymous caller to sign in, a signed-in one to their own home page).

Statuses that read as questions are noted in the row (``!``): they are today's
behaviour, kept so the table passes, and reported to be fixed where they are owned.
"""

# ruff: noqa: E501  (the matrix is a table: one line a route)

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.routes import WebSocketRoute
from litestar.testing import AsyncTestClient
from sqlmodel import Session, select

from api.app import create_app
from api.cli.demo import DEMO_BANK, DEMO_EXAM, DEMO_LEARNER, DEMO_PLAN, load_demo
from api.services import attempts, media, study
from api.services.passwords import hash_password
from api.settings import Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import Bank, BankItem, Paper, PurchaseOrder, User
from api.store.tables import Plan as PlanRow
from itembank.media import Media
from itembank.model import decode_item, encode_item
from tests.conftest import make_settings

Client = AsyncTestClient[Litestar]

ROLES = ("anonymous", "learner", "author", "employer_admin", "proctor", "operator")

# The matrix (a table as data: its lines are as long as it is wide). 302: a page sends
# the caller elsewhere, see ``HOME``. Rows run top to bottom for each role.
MATRIX = """
#      path                                               anon    learner author  employer proctor operator
GET    /health                                            200     200     200     200     200     200
GET    /ready                                             200     200     200     200     200     200
GET    /metrics                                           200     200     200     200     200     200  ! open outside production; in production an allow-list or a token (tests/api/test_auth.py)
GET    /schema                                            200     200     200     200     200     200
GET    /schema/swagger                                    200     200     200     200     200     200
GET    /schema/openapi.json                               200     200     200     200     200     200
GET    /schema/{doc}                                      200     200     200     200     200     200
GET    /schema/oauth2-redirect.html                       200     200     200     200     200     200
GET    /schema-assets/{asset}                             200     200     200     200     200     200
GET    /static/{file}                                     200     200     200     200     200     200
GET    /media/{sha256}                                    401     200     200     404     404     200  ! a bank's image: to who may see an item showing it (the demo items show one: ``prepare``); the other learner's case in tests/api/test_media.py
GET    /favicon.ico                                       200     200     200     200     200     200
GET    /favicon.svg                                       200     200     200     200     200     200
GET    /                                                  302     302     302     302     302     302
GET    /login                                             200     302     302     302     302     302
GET    /password                                          302     200     200     200     200     200
GET    /activate                                          200     200     200     200     200     200  ! the page of a link: anyone may open it; the link's token is what authorizes (POST /auth/activate)
GET    /auth/me                                           401     200     200     200     200     200
POST   /auth/login                                        401     401     401     401     401     401
POST   /auth/register                                     422     422     422     422     422     422
POST   /auth/password                                     401     403     403     403     403     403
POST   /auth/activate                                     410     410     410     410     410     410  ! the token authorizes, not the caller: an unknown one is 410 for everyone
GET    /learner/exams                                     302     200     302     302     302     302
GET    /learner/exams/{exam}/rules                        302     302     302     302     302     302
GET    /learner/attempts/{attempt}                        302     200/404 302     302     302     302
GET    /learner/attempts/{attempt}/result                 302     200/404 302     302     302     302
GET    /learner/plans                                     302     200     302     302     302     302
GET    /learner/study/{chapter}                           302     200     302     302     302     302
GET    /author                                            302     302     200     302     302     200
GET    /author/upload                                     302     302     200     302     302     200
GET    /author/banks/{bank}                               302     302     200     302     302     200
GET    /author/banks/{bank}/items                         302     302     200     302     302     200
GET    /author/banks/{bank}/items/{item}                  302     302     200     302     302     200
GET    /author/banks/{bank}/items/{item}/edit             302     302     200     302     302     200
GET    /author/banks/{bank}/new-item                      302     302     200     302     302     200
GET    /author/banks/{bank}/stats                         302     302     200     302     302     200
GET    /author/banks/{bank}/calibrations                  302     302     200     302     302     200
GET    /author/banks/{bank}/calibrations/{calibration}    302     302     200     302     302     200
GET    /author/banks/{bank}/diff                          302     302     200     302     302     200
GET    /author/banks/{bank}/versions/{version}/topics     302     302     200     302     302     200
GET    /author/exams/new                                  302     302     200     302     302     200
GET    /author/exams/{exam}/edit                          302     302     200     302     302     200
GET    /author/exams/{exam}/sample                        302     302     200     302     302     200
GET    /author/exams/{exam}/information                   302     302     200     302     302     200
GET    /author/plans                                      302     302     200     302     302     200
GET    /proctor                                           302     302     302     302     200     200
GET    /proctor/risk                                      302     302     302     302     200     200
GET    /proctor/risk/attempts/{attempt}                   302     302     302     302     200     200
GET    /proctor/attempts/{attempt}                        302     302     302     302     200     200
GET    /employer                                          302     302     302     200     302     302
GET    /employer/orders                                   302     302     302     200     302     302
GET    /operator/orders                                   302     302     302     302     302     200
GET    /learner/card                                      302     200     302     302     302     302
GET    /employer/staff/{login}/card                       302     302     302     200/404 302     302  ! the card page of another employer's learner is a 404 page, as its API
GET    /operator/card                                     302     302     302     302     302     200
GET    /verify                                            200     200     200     200     200     200  ! the public verification: no login
GET    /verify/{certificate}                              404     404     404     404     404     404  ! {certificate}: a well-formed number no certificate has (its page says so, 404); limited per address
GET    /learner/certificates                              302     200     302     302     302     302
GET    /operator/certificates                             302     302     302     302     302     200
GET    /api/me/exams                                      401     200     403     403     403     403
GET    /api/attempts/{attempt}/paper                      401     200/404 403     403     403     403
POST   /api/attempts/{attempt}/resume                     401     200/404 403     403     403     403
POST   /api/attempts/{attempt}/answers                    401     200/404 403     403     403     403
POST   /api/attempts/{attempt}/heartbeat                  401     200/404 403     403     403     403
POST   /api/attempts/{attempt}/integrity                  401     200/404 403     403     403     403
PUT    /api/attempts/{attempt}/flags                      401     200/404 403     403     403     403
GET    /api/attempts/{attempt}/result                     401     200/404 403     403     403     403
POST   /api/exams/{exam}/attempts                         401     409     403     403     403     403
GET    /api/me/plans                                      401     200     403     403     403     403
POST   /api/me/plans/{plan}/restudy                       401     409     403     403     403     403
POST   /api/me/plans/{plan}                               401     200     403     403     403     403
GET    /api/plans                                         401     200     200     200     403     200
POST   /api/plans/check                                   401     403     200     403     403     200
POST   /api/plans/import                                  401     403     201     403     403     201
PUT    /api/plans/{plan}/price                            401     403     403     403     403     200
POST   /api/me/codes                                      401     422     403     403     403     403  ! a learner's unknown code: 422 naming the code (tests/api/test_codes.py)
POST   /api/operator/codes                                401     403     403     403     403     200
GET    /api/operator/employers                            401     403     403     403     403     200
POST   /api/operator/employers                            401     403     403     403     403     201
PUT    /api/operator/employers/{employer}                 401     403     403     403     403     200
GET    /api/employer/staff                                401     403     403     200     403     422  ! an operator names the employer (?employer=); an administrator sees their own only (tests/api/test_employer.py)
POST   /api/employer/enrollments                          401     403     403     200     403     422  ! as the staff list; a line naming no learner of the administrator's employer is reported, not enrolled
GET    /api/me/orders                                     401     200     403     403     403     403
POST   /api/me/orders                                     401     409     403     403     403     403  ! the demo plan is free: 409 plan_free (buying: tests/api/test_orders.py)
POST   /api/employer/orders/check                         401     403     403     409     403     422  ! the demo plan is free: 409 plan_free; an operator names the employer
POST   /api/employer/orders                               401     403     403     409     403     422  ! as the check
GET    /api/employer/orders                               401     403     403     200     403     422  ! an operator names the employer
GET    /api/orders/{number}                               401     200/404 403     404     403     200  ! {number}: the learner's own order / another learner's; an administrator sees only their employer's group orders (404 for any other: order numbers cannot be probed)
POST   /api/orders/{number}/invoice                       401     201/404 403     404     403     201
PUT    /api/orders/{number}/invoice                       401     200/404 403     404     403     200
POST   /api/orders/{number}/cancel                        401     200/404 403     404     403     200
GET    /api/operator/orders                               401     403     403     403     403     200
POST   /api/operator/orders/{number}/payments             401     403     403     403     403     409  ! the order was cancelled by the row above: 409 order_state
POST   /api/operator/orders/{number}/refund               401     403     403     403     403     409  ! cancelled, not paid: 409 order_state
POST   /api/operator/orders/{number}/invoice/issue        401     403     403     403     403     409  ! not paid: 409 order_state
GET    /api/operator/invoices                             401     403     403     403     403     200
GET    /api/me/certificates                               401     200     403     403     403     403
GET    /api/me/certificates/{certificate}/pdf             401     404     403     403     403     403  ! no certificate has the number (own and others': tests/api/test_certificates.py)
GET    /api/employer/certificates                         401     403     403     200     403     422  ! an operator names the employer
GET    /api/employer/certificates/{certificate}/pdf       401     403     403     404     403     404
GET    /api/operator/certificates                         401     403     403     403     403     200
GET    /api/operator/certificates/{certificate}           401     403     403     403     403     404
GET    /api/operator/certificates/{certificate}/pdf       401     403     403     403     403     404
POST   /api/operator/certificates/{certificate}/revoke    401     403     403     403     403     404
GET    /api/verify/{certificate}                          404     404     404     404     404     404  ! public, limited per address
GET    /.well-known/examengine-keys.json                  200     200     200     200     200     200
POST   /api/payments/{provider}/callback                  403     403     403     403     403     403  ! a provider's server calls it, with no session: its signature authorizes; the bank transfer takes no callbacks (403 callback_refused)
POST   /api/study/heartbeat                               403     200/403 403     403     403     403  ! token-authenticated (decision 0022): no session read, so any caller but the sign-in that began the session is 403 not_your_session (401 only with no session cookie at all)
POST   /api/study/ack                                     403     409/403 403     403     403     403  ! as the heartbeat; own: 409, no challenge waiting
GET    /api/study/events                                  401     200/403 403     403     403     403  ! other: 403 not_your_session, as the heartbeat
WS     /api/study/socket                                  4000    101/4000 4000   4000    4000    4000 ! a WebSocket: 101 it stays open, else its close code — 4000 the session is not this sign-in's (not_your_session), 4401 no session cookie at all
POST   /api/study/{chapter}/start                         401     200     403     403     403     403
GET    /api/banks                                         401     403     200     403     403     200
POST   /api/banks/lint                                    401     403     200     403     403     200
GET    /api/banks/{bank}/versions                         401     403     200     403     403     200
GET    /api/banks/{bank}/items                            401     403     200     403     403     200
GET    /api/banks/{bank}/items/{item}                     401     403     200     403     403     200
GET    /api/banks/{bank}/export                           401     403     200     403     403     200
GET    /api/banks/{bank}/export/losses                    401     403     200     403     403     200
GET    /api/banks/{bank}/diff                             401     403     200     403     403     200
GET    /api/banks/{bank}/stats                            401     403     200     403     403     200
PUT    /api/banks/{bank}/items/{item}                     401     403     422     403     403     422
POST   /api/banks/{bank}/import                           401     403     201     403     403     201
POST   /api/banks/{bank}/versions/{version}/publish       401     403     200     403     403     200
GET    /api/banks/{bank}/calibrations                     401     403     200     403     403     200
GET    /api/banks/{bank}/calibrations/{calibration}       401     403     200     403     403     200
GET    /api/banks/{bank}/calibrations/{calibration}/dif   401     403     200     403     403     200
GET    /api/banks/{bank}/calibrations/{calibration}/groups 401    403     200     403     403     200
POST   /api/banks/{bank}/calibrations                     401     403     201     403     403     201
GET    /api/exams                                         401     403     200     403     403     200
GET    /api/exams/{exam}                                  401     403     200     403     403     200
GET    /api/exams/{exam}/sample-paper                     401     403     200     403     403     200
POST   /api/exams/validate                                401     403     200     403     403     200
POST   /api/exams                                         401     403     422     403     403     422
POST   /api/exams/{exam}/versions/{version}/publish       401     403     200     403     403     200
GET    /api/exams/{exam}/papers/{learner}/{n}/audit       401     403     403     403     403     200
GET    /api/operator/attempts                             401     403     403     403     200     200
GET    /api/operator/attempts/{attempt}/steps             401     403     403     403     200     200
GET    /api/operator/risk/attempts                        401     403     403     403     200     200
GET    /api/operator/risk/attempts/{attempt}              401     403     403     403     200     200
GET    /api/operator/risk/cycles                          401     403     403     403     200     200
GET    /api/operator/risk/export                          401     403     403     403     200     200
GET    /api/evidence/attempts/{attempt}                   401     403     403     403     200     200
GET    /api/evidence/learners/{login}                     401     403     403     403     403     200
POST   /api/operator/attempts/{attempt}/extend            401     403     403     403     200     200
POST   /api/operator/learners/{login}/exams/{exam}/grant  401     403     403     403     403     200
POST   /api/operator/attempts/{attempt}/regrade           401     403     403     403     403     409
POST   /api/accounts/roster                               401     403     403     422     403     422
POST   /api/accounts/{login}/reset-password               401     403     403     200/404 403     200
POST   /api/accounts/{login}/roles                        401     403     403     403     403     200
GET    /api/accounts/{login}/employment                   401     403     403     200/404 403     200  ! an administrator reads their own employer's learners only; any other account is a 404, as for a reset
GET    /api/me/card                                       401     200     403     403     403     403
GET    /api/accounts/{login}/card                         401     403     403     200/404 403     200  ! as the employment record: an administrator reads their own employer's learners' cards only
GET    /api/employer/cards.zip                            401     403     403     200     403     422  ! an operator names the employer (?employer=), as for the staff list
PUT    /api/accounts/{login}/employer                     401     403     403     403     403     200  ! only operators move people between employers, an administrator's own staff included (decision 0025)
POST   /api/attempts/{attempt}/submit                     401     200/404 403     403     403     403
POST   /api/operator/attempts/{attempt}/terminate         401     403     403     403     200     200
POST   /auth/logout                                       204     204     204     204     204     204
"""

PLACEHOLDER = re.compile(r"\{[^}]*\}")

#: Where a page's 302 sends each caller: the anonymous one to sign in (and back), a
#: signed-in one without the page's role to their own home page.
HOME = {
    "anonymous": "/login?next=",
    "learner": "/learner/exams",
    "author": "/author",
    "proctor": "/proctor",
    "operator": "/proctor",
    "employer_admin": "/employer",
}
#: Rows whose 302 goes elsewhere: the exam's rules page resumes an open attempt; ``/``
#: is the way in.
ELSEWHERE = {
    ("learner", "/learner/exams/{exam}/rules"): "/learner/attempts/",
    ("anonymous", "/"): "/login",
}


def redirect_of(role: str, row: Row) -> str:
    return ELSEWHERE.get((role, row.path), HOME[role])


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    #: role → (status for the own resource, status for another's)
    cells: dict[str, tuple[int, int]]
    note: str = ""

    @property
    def route(self) -> tuple[str, str]:
        return self.method, PLACEHOLDER.sub("{}", self.path)

    @property
    def owned(self) -> bool:
        owners = ("{attempt}", "{login}", "{number}")
        return any(n in self.path for n in owners) or self.path in TOKEN_ROWS


TOKEN_ROWS = {"/api/study/heartbeat", "/api/study/ack", "/api/study/events", "/api/study/socket"}


def parse(table: str) -> list[Row]:
    rows = []
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        text, _, note = line.partition("!")
        method, path, *cells = text.split()
        assert len(cells) == len(ROLES), f"{method} {path}: {len(cells)} cells for {ROLES}"
        pairs = {}
        for role, cell in zip(ROLES, cells, strict=True):
            own, _, other = cell.partition("/")
            pairs[role] = (int(own), int(other or own))
        rows.append(Row(method, path, pairs, note.strip()))
    return rows


ROWS = parse(MATRIX)


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, path parameters as ``{}``."""
    found = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            found.add(("WS", PLACEHOLDER.sub("{}", route.path)))
        for method in getattr(route, "methods", ()):
            if method not in {"HEAD", "OPTIONS"}:
                found.add((method, PLACEHOLDER.sub("{}", route.path)))
    return found


def test_every_route_of_the_app_has_a_row_and_every_row_a_route(tmp_path: Path) -> None:
    routes = app_routes(create_app(make_settings(tmp_path)))
    rows = [row.route for row in ROWS]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert sorted(routes - set(rows)) == [], "routes without a row in the matrix"
    assert sorted(set(rows) - routes) == [], "rows for routes the app does not have"


# ------------------------------------------------------------------------- the world

PASSWORD = "matrix password 1"
OTHER_LEARNER = "13800000009"
EMPLOYER, OTHER_EMPLOYER = "重庆市第一中学", "另一单位"
#: A pending order of the learner's own, and one of the other learner's.
OWN_ORDER, OTHER_ORDER = "2026120700000001", "2026120700000002"
#: The signed-in account of each role (the learner is the demo learner).
ACCOUNTS = {
    "learner": (DEMO_LEARNER, ("learner",)),
    "author": ("13800000001", ("author",)),
    "employer_admin": ("13800000004", ("employer_admin",)),
    "proctor": ("13800000002", ("proctor",)),
    "operator": ("13800000003", ("operator",)),
}


@dataclass
class World:
    role: str
    app: Litestar
    client: Client
    #: placeholder → (own value, other's value)
    values: dict[str, tuple[str, str]] = field(default_factory=dict)


def prepare(settings: Settings) -> None:
    """The demo data; every account with ``PASSWORD``; a second learner of another
    employer, enrolled like the demo learner in the demo exam and plan."""
    migrate(settings.database.url)
    now = datetime.now(UTC)
    with standalone_transaction(settings.database) as db:
        load_demo(db, now=now)
        db.add(User(login=OTHER_LEARNER, display_name="李四", password_hash="", roles=["learner"]))
        db.add(User(login="13800000004", display_name="单位管理员", password_hash="",
                    roles=["employer_admin"], employer=EMPLOYER))  # fmt: skip
        db.flush()
        for user in db.exec(select(User)).all():
            user.password_hash = hash_password(PASSWORD)
            user.must_change_password = False
            user.employer = {DEMO_LEARNER: EMPLOYER, OTHER_LEARNER: OTHER_EMPLOYER}.get(
                user.login, user.employer
            )
            db.add(user)
        show_an_image_in_every_demo_item(db)
        other = db.exec(select(User).where(User.login == OTHER_LEARNER)).one()
        assert other.id is not None
        ms = int(now.timestamp() * 1000)
        attempts.enroll(db, learner_id=other.id, exam=DEMO_EXAM, study_met=True, now=ms)
        study.enroll(db, learner_id=other.id, plan=DEMO_PLAN, now=ms)
        plan = db.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
        mine = db.exec(select(User).where(User.login == DEMO_LEARNER)).one()
        for number, buyer in ((OWN_ORDER, mine.id), (OTHER_ORDER, other.id)):
            assert buyer is not None and plan.id is not None
            db.add(PurchaseOrder(number=number, kind="individual", buyer_id=buyer, plan_id=plan.id,
                                 unit_fen=0, amount_fen=0, provider="offline_transfer",
                                 created_ms=ms))  # fmt: skip


IMAGE = b"\x89PNG\r\n\x1a\n matrix"
IMAGE_SHA = hashlib.sha256(IMAGE).hexdigest()


def show_an_image_in_every_demo_item(db: Session) -> None:
    """The demo bank holds ``IMAGE`` and every demo item's stem shows it, so every paper
    has it (``GET /media/{sha256}``)."""
    bank = db.exec(select(Bank).where(Bank.name == DEMO_BANK)).one()
    assert bank.id is not None
    media.store(db, bank_id=bank.id, version_id=None, media=[
        Media(sha256=IMAGE_SHA, mime="image/png", name="m.png", data=IMAGE)])  # fmt: skip
    for row in db.exec(select(BankItem)).all():
        item = decode_item(row.data)
        stem = f"{item.stem}\n\n![](media:{IMAGE_SHA})"
        row.data = encode_item(msgspec.structs.replace(item, stem=stem)).decode()
        db.add(row)


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    answer = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


async def own_things(client: Client, login: str) -> tuple[str, str]:
    """Sign ``login`` in, start an attempt and a study session: (attempt id, token)."""
    await sign_in(client, login)
    started = await client.post(f"/api/exams/{DEMO_EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    chapter = await client.post("/api/study/demo-law-1/start")
    assert chapter.status_code == 200, chapter.text
    return started.json()["attempt"], chapter.json()["token"]


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    role: str = request.param
    settings = make_settings(tmp_path)
    prepare(settings)
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        # The other learner's things first; the learner's last, in the session that
        # will make the requests (an attempt is bound to the device that started it).
        other_attempt, other_token = await own_things(client, OTHER_LEARNER)
        if role != "learner":
            own_attempt, own_token = await own_things(client, DEMO_LEARNER)
            client.cookies.clear()
            if role != "anonymous":
                await sign_in(client, ACCOUNTS[role][0])
        else:
            own_attempt, own_token = await own_things(client, DEMO_LEARNER)
        # Form posts (the uploads) carry Litestar's CSRF token as the pages send it, so
        # a refusal in the table is the guards', not the token's.
        await client.get("/auth/me")  # a GET through the app sets the token's cookie
        client.headers["x-csrftoken"] = client.cookies["csrftoken"]
        with standalone_transaction(settings.database) as db:
            paper = db.exec(select(Paper).where(Paper.attempt == 1)).first()
            assert paper is not None
            learner_ref = paper.learner_ref
        values = {
            "attempt": (own_attempt, other_attempt),
            "token": (own_token, other_token),
            "login": (DEMO_LEARNER, OTHER_LEARNER),
            "exam": (DEMO_EXAM, DEMO_EXAM),
            "bank": (DEMO_BANK, DEMO_BANK),
            "item": ("law-001", "law-001"),
            "version": ("1", "1"),
            "learner": (learner_ref, learner_ref),
            "n": ("1", "1"),
            "plan": (DEMO_PLAN, DEMO_PLAN),
            "chapter": ("demo-law-1", "demo-law-1"),
            "doc": ("swagger", "swagger"),
            "asset": ("swagger-ui.css", "swagger-ui.css"),
            "file": ("app.css", "app.css"),
            "number": (OWN_ORDER, OTHER_ORDER),
            # A well-formed certificate number that no certificate has.
            "certificate": ("2026-7K3M-Q9XD-4TZP", "2026-7K3M-Q9XD-4TZP"),
            # The employer the registry row above registers.
            "employer": ("矩阵单位", "矩阵单位"),
            "provider": ("offline_transfer", "offline_transfer"),
            "sha256": (IMAGE_SHA, IMAGE_SHA),
            # The demo bank's calibration of a simulated cohort (api/cli/demo.py).
            "calibration": ("1", "1"),
        }
        yield World(role=role, app=app, client=client, values=values)


def bank_file() -> dict[str, Any]:
    text = "format: examengine-bank\nitems:\n  - {key: m-1, kind: true_false, stem: 对吗, answer: true}"
    return {"files": {"file": ("m.yaml", text.encode(), "application/x-yaml")}}


def plan_file() -> dict[str, Any]:
    text = (
        "key: m-plan\ntitle: 矩阵\nyear: 2026\ncategory: public\nrequired_hours: 0\n"
        "elective_hours: 0\ncourses: []\n"
    )
    return {"files": {"file": ("m.yaml", text.encode(), "application/x-yaml")}}


#: What each write sends (query, JSON body or files); a row not here sends nothing.
def request_of(row: Row, values: dict[str, str]) -> dict[str, Any]:
    match row.method, row.path:
        case "POST", "/auth/login":
            return {"json": {"login": "nobody", "password": "wrong password"}}
        case "POST", "/auth/register":
            return {"json": {}}
        case "POST", "/auth/password":
            return {"json": {"current_password": "wrong", "new_password": "another pass 1"}}
        case "POST", "/auth/activate":
            return {"json": {"token": "t" * 32, "new_password": "another pass 1"}}
        case "POST", "/api/attempts/{attempt}/answers":
            return {"json": []}
        case "POST", "/api/attempts/{attempt}/integrity":
            return {"json": {"kind": "copy"}}
        case "PUT", "/api/attempts/{attempt}/flags":
            return {"json": {"items": []}}
        case "POST", "/api/exams/{exam}/attempts":
            return {"json": {"practice": False}}
        case "POST", "/api/study/heartbeat":
            return {"json": {"token": values["token"], "position_ms": 0, "playing": True}}
        case "POST", "/api/study/ack":
            return {"json": {"token": values["token"], "seq": 1, "answer": "A"}}
        case "GET", "/api/study/events":
            return {"params": {"token": values["token"]}}
        case "GET", "/api/banks/{bank}/export" | "/api/banks/{bank}/export/losses":
            return {"params": {"format": "native"}}
        case "GET", "/api/banks/{bank}/calibrations/{calibration}/dif":
            return {"params": {"group": "gender", "focal": "female"}}
        case "GET", "/api/banks/{bank}/calibrations/{calibration}/groups":
            return {"params": {"group": "employer"}}
        case "POST", "/api/banks/{bank}/calibrations":
            return {"json": {"model": "rasch"}}
        case "GET", "/api/banks/{bank}/diff":
            return {"params": {"old": 1, "new": 1}}
        case "POST", "/api/banks/lint" | "/api/banks/{bank}/import":
            return bank_file()
        case "PUT", "/api/banks/{bank}/items/{item}" | "POST", "/api/exams":
            return {"json": {}}
        case "POST", "/api/exams/validate":
            return {"json": {}}
        case "POST", "/api/operator/attempts/{attempt}/extend":
            return {"json": {"extra_s": 60, "reason": "断网"}}
        case "POST", "/api/operator/learners/{login}/exams/{exam}/grant":
            return {"json": {"reason": "系统故障", "extra_attempts": 1}}
        case "POST", (
            "/api/operator/attempts/{attempt}/regrade"
            | "/api/operator/attempts/{attempt}/terminate"
        ):
            return {"json": {"reason": "矩阵"}}
        case "POST", "/api/accounts/roster":
            return {"files": {"file": ("roster.csv", b"name\n", "text/csv")}}
        case "POST", "/api/accounts/{login}/reset-password":
            return {"json": {}}
        case "POST", "/api/me/codes":
            return {"json": {"code": "ABCD-EFGH-JKMN-PQRS"}}
        case "POST", "/api/operator/codes":
            return {"json": {"plan": values["plan"], "count": 1}}
        case (
            "POST",
            "/api/employer/enrollments" | "/api/employer/orders/check" | "/api/employer/orders",
        ):
            return {"json": {"plan": values["plan"], "logins": values["login"]}}
        case "POST", "/api/plans/check" | "/api/plans/import":
            return plan_file()
        case "PUT", "/api/plans/{plan}/price":
            return {"json": {"price_fen": 0}}
        case "POST", "/api/me/orders":
            return {"json": {"plan": values["plan"]}}
        case "POST" | "PUT", "/api/orders/{number}/invoice":
            return {"json": {"title": "个人 张三"}}
        case "POST", "/api/operator/orders/{number}/payments":
            return {"json": {"reference": "BANK-1", "amount_fen": 1}}
        case "POST", "/api/operator/orders/{number}/refund":
            return {"json": {"reason": "矩阵", "reference": "R-1"}}
        case "POST", "/api/operator/certificates/{certificate}/revoke":
            return {"json": {"reason": "矩阵"}}
        case "POST", "/api/operator/orders/{number}/invoice/issue":
            return {"json": {"number": "INV-1"}}
        case "GET", "/api/operator/invoices":
            return {"params": {"year": 2026}}
        case "POST", "/api/payments/{provider}/callback":
            return {"content": b"{}"}
        case "POST", "/api/accounts/{login}/roles":
            return {"json": {"roles": ["learner"]}}
        case "POST", "/api/operator/employers":
            return {"json": {"name": "矩阵单位", "credit_code": "9144030071526726XG"}}
        case "PUT", "/api/operator/employers/{employer}":
            return {"json": {"region": "重庆市"}}
        case "PUT", "/api/accounts/{login}/employer":
            return {"json": {"employer": "矩阵单位"}}
    return {}


def fill(path: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(0)[1:-1]], path)


async def call(world: World, row: Row, values: dict[str, str]) -> tuple[int, str]:
    """The status and the start of the body of ``row``'s request."""
    if row.path == "/api/study/events":
        return await open_stream(world, fill(row.path, values), values["token"])
    if row.method == "WS":
        return await open_socket(world, fill(row.path, values), values["token"])
    answer = await world.client.request(
        row.method, fill(row.path, values), follow_redirects=False, **request_of(row, values)
    )
    if answer.is_redirect:
        return answer.status_code, f"-> {answer.headers['location']}"
    return answer.status_code, answer.text[:120]


async def open_stream(world: World, path: str, token: str) -> tuple[int, str]:
    """A Server-Sent Events request straight to the app: its status as soon as the
    response starts (the test client would wait for a stream that never ends)."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the browser keeps the stream open
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    cookie = "; ".join(f"{k}={v}" for k, v in world.client.cookies.items())
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": f"token={token}".encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    task = asyncio.create_task(world.app(scope, receive, send))  # type: ignore[arg-type]
    try:
        status = await asyncio.wait_for(started, timeout=5)
        await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return status, b"".join(body)[:120].decode(errors="replace")


async def open_socket(world: World, path: str, token: str) -> tuple[int, str]:
    """A WebSocket straight to the app: 101 if it is accepted and stays open, else the
    code it is closed with; the first message it sent."""
    closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        if not sent and "connect" not in sent:
            sent.append("connect")
            return {"type": "websocket.connect"}
        await asyncio.Event().wait()  # the page keeps the socket open, sending nothing
        return {"type": "websocket.disconnect", "code": 1000}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            sent.append(message.get("text") or message.get("bytes", b"").decode())
        elif message["type"] == "websocket.close" and not closed.done():
            closed.set_result(message.get("code", 1000))

    cookie = "; ".join(f"{k}={v}" for k, v in world.client.cookies.items())
    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "scheme": "ws", "path": path, "raw_path": path.encode(),
        "query_string": f"token={token}".encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
        "subprotocols": [],
    }  # fmt: skip
    task = asyncio.create_task(world.app(scope, receive, send))  # type: ignore[arg-type]
    try:
        status = await asyncio.wait_for(asyncio.shield(closed), timeout=0.3)
    except TimeoutError:
        status = 101
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return status, (sent[1] if len(sent) > 1 else "")[:120]


@pytest.mark.parametrize("world", ROLES, indirect=True)
async def test_every_endpoint_answers_each_role_as_the_matrix_says(world: World) -> None:
    mismatches = []
    for row in ROWS:
        sides = ("own", "other") if row.owned else ("own",)
        for n, side in enumerate(sides):
            values = {k: v[n] for k, v in world.values.items()}
            status, text = await asyncio.wait_for(call(world, row, values), timeout=10)
            expected = row.cells[world.role][n]
            if status != expected:
                mismatches.append(
                    f"{row.method} {row.path} ({side}): {status}, expected {expected} — {text}"
                )
            elif status == 302 and not text.startswith(f"-> {redirect_of(world.role, row)}"):
                mismatches.append(f"{row.method} {row.path} ({side}): redirected {text}")
    assert not mismatches, f"{world.role}:\n" + "\n".join(mismatches)
