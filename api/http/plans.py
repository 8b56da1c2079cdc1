"""Training plans over HTTP, for the people who write them (authors, operators): check a
plan file (YAML or JSON, the shape of ``examengine.credit.Plan``: courses, chapters,
hours, exam, anti-idle policy, price) and store it, from the browser as from
``examengine plan import``; and, for operators, change a plan's price (orders placed
before keep theirs). Every refusal names the file and the field or the rule, in both
languages (``api.services.study.decode_plan``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, post, put
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody
from msgspec import Meta, Struct

from api.http.auth import requires_role
from api.http.errors import RAISES
from api.http.params import PlanKey
from api.services import study
from api.store.db import Uow
from examengine import credit
from examengine.commerce import MAX_PRICE_FEN, PriceBasis, unit_fen


class PlanUpload(Struct, kw_only=True):
    file: UploadFile


class PlanChecked(Struct, frozen=True, kw_only=True):
    """What a plan file holds, as its author checks it."""

    plan: str
    title: str
    year: int
    category: str
    required_hours: float
    elective_hours: float
    courses: int
    chapters: int
    exam: str | None
    #: ``own`` (the file's anti-idle policy) or ``default`` (the service's).
    policy: Literal["own", "default"]
    price_fen: int
    price_basis: str
    #: What one person's place costs.
    unit_fen: int


class PriceChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    price_fen: Annotated[int, Meta(ge=0, le=MAX_PRICE_FEN)]
    price_basis: PriceBasis = PriceBasis.PERSON


PlanFile = Annotated[PlanUpload, Body(media_type=RequestEncodingType.MULTI_PART)]


async def _decode(upload: PlanUpload) -> credit.Plan:
    # The app's cap on a request body (1 MiB, a 413) bounds the file: a plan of a few
    # hundred chapters is ~100 KB.
    name = upload.file.filename or "plan"
    data = await upload.file.read()
    fmt: Literal["json", "yaml"] = "json" if name.lower().endswith(".json") else "yaml"
    return study.decode_plan(data, source=name, fmt=fmt)


def _checked(plan: credit.Plan) -> PlanChecked:
    hours = plan.required_hours + plan.elective_hours
    return PlanChecked(
        plan=plan.key, title=plan.title, year=plan.year, category=plan.category,
        required_hours=plan.required_hours, elective_hours=plan.elective_hours,
        courses=len(plan.courses), chapters=sum(len(c.course.chapters) for c in plan.courses),
        exam=plan.exam, policy="default" if plan.challenge is None else "own",
        price_fen=plan.price_fen, price_basis=plan.price_basis.value,
        unit_fen=unit_fen(plan.price_fen, plan.price_basis, hours),
    )  # fmt: skip


class PlanFilesController(Controller):
    """``/api/plans/…``: plan files checked and stored; prices changed."""

    path = "/api/plans"
    tags = ["study"]
    guards = [requires_role("author", "operator")]
    opt = {RAISES: (credit.StudyError,)}

    @post("/check", status_code=200, summary="Check a plan file without storing it")
    async def check(self, data: PlanFile) -> PlanChecked:
        """422 ``plan_unreadable`` naming the file and the field, or the rule the plan
        breaks (required courses first, enough hours for each kind)."""
        return _checked(await _decode(data))

    @post("/import", status_code=201, summary="Store a plan file (a plan with its key is updated)")
    async def import_(self, uow: Uow, state: State, data: PlanFile) -> PlanChecked:
        plan = await _decode(data)
        now = int(state.clock.now_ms())

        def work(db: Any) -> PlanChecked:
            study.save_plan(db, plan, now=now)
            return _checked(plan)

        return await uow.run(work)

    @put("/{plan:str}/price", guards=[requires_role("operator")], sync_to_thread=True,
         summary="Change a plan's price (orders placed before keep theirs)")  # fmt: skip
    def price(self, uow: Uow, plan: PlanKey, data: JSONBody[PriceChange]) -> PlanChecked:
        with uow() as db:
            return _checked(study.set_price(db, plan=plan, price_fen=data.price_fen,
                                            basis=data.price_basis))  # fmt: skip
