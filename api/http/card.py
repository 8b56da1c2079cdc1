"""The registration card (登记卡) over HTTP (docs/decisions/0029): a learner's own
(``/api/me/card``); a learner's for an administrator of their employer or an operator
(``/api/accounts/{login}/card``); and an employer's archive of its staff's cards
(``/api/employer/cards.zip``). Each card comes as JSON, a PDF or a workbook
(``format``), of one year (``year``) or of every year.

Thin handlers: the card is gathered in one unit of work (``api.services.card``) and its
documents are written after it has ended, so no transaction waits on a PDF.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromQuery, Parameter

from api.http.auth import principal_of, requires_role
from api.http.employer import XLSX, acting_employer
from api.http.errors import RAISES
from api.http.params import Filter, LoginRef, OptionalFilter
from api.http.schema import replying_in
from api.services import card as cards
from api.services.accounts import AccountError
from api.services.employer import AccountFilter
from api.settings import Settings
from api.store.db import Uow
from examengine.clock import year_of

PDF = "application/pdf"
ZIP = "application/zip"
JSON = "application/json"

#: A card's year (China's calendar); left out: every year of the learner's plans and the
#: current one.
CardYear = Annotated[
    int | None,
    Parameter(ge=2000, le=2100, description="The calendar year (every year when left out)"),
]
CardFormat = Literal["json", "pdf", "xlsx"]


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)}


def _reply(
    card: cards.Card, *, year: int | None, format: CardFormat, state: State
) -> Response[Any]:
    """The card in ``format``: JSON, or a PDF or workbook to download."""
    if format == "json":
        return Response(card)
    if format == "pdf":
        settings: Settings = state.settings
        return Response(
            cards.card_pdf(card, font=settings.records.pdf_font), media_type=PDF,
            headers=_attachment(cards.card_filename(card, year=year, ext="pdf")),
        )  # fmt: skip
    name = cards.card_filename(card, year=year, ext="xlsx")
    return Response(cards.card_xlsx(card), media_type=XLSX, headers=_attachment(name))


@get("/api/me/card", guards=[requires_role("learner")], sync_to_thread=True, tags=["records"],
     operation_class=replying_in(JSON, PDF, XLSX), opt={RAISES: (AccountError,)},
     summary="My registration card: each study, each year's hours against the requirement",
     )  # fmt: skip
def my_card(
    *, request: Request[Any, Any, Any], uow: Uow, state: State, year: CardYear = None,
    format: FromQuery[CardFormat] = "json",
) -> Response[Any]:  # fmt: skip
    """Each plan studied, in its plan's year: category, content, period, hours credited
    and recorded, the result (the exam's score, the certificate's number); each year's
    recorded hours by category against the requirement of the employer's region, and
    the shortfall. ``format=pdf`` or ``xlsx``: the card to download."""
    settings: Settings = state.settings
    with uow() as db:
        card = cards.my_card(
            db, learner_id=principal_of(request).user_id, year=year, now=_now(state),
            study_settings=settings.study, issuer=settings.records.issuer,
        )  # fmt: skip
    return _reply(card, year=year, format=format, state=state)


@get("/api/accounts/{login:str}/card", guards=[requires_role("employer_admin", "operator")],
     sync_to_thread=True, tags=["records"], operation_class=replying_in(JSON, PDF, XLSX),
     opt={RAISES: (AccountError,)},
     summary="A learner's registration card, for their employer or an operator")  # fmt: skip
def account_card(
    *, request: Request[Any, Any, Any], uow: Uow, state: State, login: LoginRef,
    year: CardYear = None, format: FromQuery[CardFormat] = "json",
) -> Response[Any]:  # fmt: skip
    """As ``/api/me/card``. An employer administrator reads the cards of their own
    employer's learners; any other account is, to them, one that does not exist (404
    ``account_not_found``). Operators read anyone's."""
    settings: Settings = state.settings
    with uow() as db:
        card = cards.account_card(
            db, login=login, actor_id=principal_of(request).user_id, year=year,
            now=_now(state), study_settings=settings.study, issuer=settings.records.issuer,
        )  # fmt: skip
    return _reply(card, year=year, format=format, state=state)


@get("/api/employer/cards.zip", guards=[requires_role("employer_admin", "operator")],
     sync_to_thread=True, tags=["records"], operation_class=replying_in(ZIP),
     opt={RAISES: (AccountError,)},
     summary="The staff's registration cards of a year: one PDF each and a summary workbook",
     description=(
         "A zip of one PDF per learner the staff list's filters select (``q``, ``account``, "
         "``plan``; an operator names the ``employer``), named by name, masked ID number "
         "and year, and ``汇总-<year>.xlsx``: each person's hours by category, total, "
         "requirement, shortfall and results. ``year``: the current year when left out. "
         f"At most {cards.MAX_ARCHIVE} people per archive: more is a 422 naming ``q`` "
         "(narrow the filters and download in parts)."
     ))  # fmt: skip
def archive(
    *, request: Request[Any, Any, Any], uow: Uow, state: State, year: CardYear = None,
    q: Filter = "", employer: OptionalFilter = None,
    account: FromQuery[AccountFilter] = "all", plan: OptionalFilter = None,
) -> Response[bytes]:  # fmt: skip
    settings: Settings = state.settings
    now = _now(state)
    chosen = year if year is not None else year_of(now)
    with uow() as db:
        whose = acting_employer(request, db, employer)
        staff = cards.archive_cards(
            db, employer=whose, year=chosen, now=now, study_settings=settings.study,
            issuer=settings.records.issuer, query=q, account=account, plan=plan,
        )  # fmt: skip
    body = cards.archive_zip(staff, year=chosen, now=now, font=settings.records.pdf_font)
    name = cards.file_safe(f"{whose}-学时登记卡-{chosen}") + ".zip"
    return Response(body, media_type=ZIP, headers=_attachment(name))


CARD_HANDLERS = [my_card, account_card, archive]
