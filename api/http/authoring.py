"""The authoring API (author role): upload and lint bank files, import, browse and edit
items, publish versions, export in any format, diff versions, item analysis, and
calibrations (IRT parameters fitted to the stored responses, DIF between groups).

Thin handlers: each reads the request, calls one use case in ``api.services.banks`` on
the request's transaction, and returns a wire Struct. Domain errors (``ItembankError``)
become problem+json in ``api.http.errors``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody, Parameter
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.auth import principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import (
    MAX_INT,
    ONE_LINE,
    BankName,
    Filter,
    ItemKey,
    LatestVersion,
    Limit,
    Offset,
    Version,
)
from api.http.schema import replying_in
from api.services import banks
from api.services import calibration as calibrations
from api.settings import Settings
from api.store.db import Uow
from itembank import formats
from itembank.analysis import ExamStats
from itembank.errors import ItembankError
from itembank.model import Item
from itembank.problems import Problem
from itembank.versioning import BankDiff

#: Largest bank file accepted in one upload.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

#: An export format: one of the known names (an enum in the API description).
FormatName = Literal[formats.FORMAT_NAMES]  # type: ignore[valid-type]

MEDIA_TYPES = {
    "native": ("application/yaml", "yaml"),
    "gift": ("text/plain; charset=utf-8", "gift"),
    "aiken": ("text/plain; charset=utf-8", "txt"),
    "moodle": ("application/xml", "xml"),
    "qti": ("application/zip", "zip"),
    "excel": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}


class Upload(Struct, kw_only=True):
    """A bank file; ``format`` is told from the file name when empty."""

    file: UploadFile
    format: str = ""
    publish: bool = False


class LintReportOut(Struct, frozen=True, kw_only=True):
    """A lint report on the wire. ``items`` counts the items read; ``items_seen`` the
    questions in the file (read or not), ``items_with_errors`` those with an error."""

    source: str
    format: str
    items: int
    items_seen: int
    items_with_errors: int
    errors: int
    warnings: int
    problems: tuple[Problem, ...]


class ImportOut(Struct, frozen=True, kw_only=True):
    version: banks.VersionInfo
    unchanged: bool
    lint: LintReportOut


class ExportLosses(Struct, frozen=True, kw_only=True):
    """What exporting a version in ``format`` loses: one warning per item that loses a
    field (``export-loss``, naming the fields) or cannot be written at all
    (``export-dropped``), in English and Chinese. Empty when the format carries it all."""

    format: str
    version: int
    items: int
    warnings: tuple[Problem, ...]


#: A calibration's number within its bank (from 1).
CalibrationNumber = Annotated[
    int, Parameter(ge=1, le=MAX_INT, description="The calibration's number within the bank")
]
#: A group of learners for DIF: an employer's or a district's name, or a gender. Left
#: out, the focal group is refused by the service naming the field (Litestar's own
#: refusal of a missing query parameter names none).
GroupLabel = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=200,
        pattern=ONE_LINE,
        description="A group's label: an employer, a district, or male/female",
    ),
]
GroupName = Annotated[
    Literal["employer", "district", "gender"],
    Parameter(description="What learners are grouped by: their employer, district or gender"),
]


class CalibrateRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Calibrate a bank version (the latest when ``version`` is null) with the 2PL or
    the Rasch model."""

    version: Annotated[int, Meta(ge=1, le=MAX_INT)] | None = None
    model: Literal["2pl", "rasch"] = "2pl"


class UnreadableUpload(ItembankError):
    code = "unreadable_upload"


def _report_out(source: str, report: Any) -> LintReportOut:
    seen, broken = banks.question_counts(report)
    return LintReportOut(
        source=source,
        format=report.format,
        items=len(report.items),
        items_seen=seen,
        items_with_errors=broken,
        errors=report.errors,
        warnings=report.warnings,
        problems=report.problems,
    )


async def _read(upload: Upload) -> tuple[bytes, str, str | None]:
    data = await upload.file.read()
    name = upload.file.filename or "upload"
    if len(data) > MAX_UPLOAD_BYTES:
        raise UnreadableUpload(
            f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB",
            f"{name} 超过 {MAX_UPLOAD_BYTES // 2**20} MiB",
        )
    fmt = upload.format or None
    if fmt is not None and fmt not in formats.FORMAT_NAMES:
        known = ", ".join(formats.FORMAT_NAMES)
        raise UnreadableUpload(f"unknown format {fmt!r}; known: {known}", f"未知格式 {fmt!r}")
    if fmt is None:
        try:
            fmt = formats.detect(name, data)
        except formats.UnknownFormatError as exc:
            raise UnreadableUpload(
                str(exc), f"无法从文件名 {name!r} 判断格式，请指定格式"
            ) from None
    return data, name, fmt


def _now() -> datetime:
    return datetime.now(UTC)


Multipart = Annotated[Upload, Body(media_type=RequestEncodingType.MULTI_PART)]


class AuthoringController(Controller):
    path = "/api/banks"
    tags = ["authoring"]
    guards = [requires_role("author", "operator")]
    opt = {RAISES: (ItembankError, formats.UnknownFormatError)}

    @get("/", summary="Every bank with its latest version", sync_to_thread=True)
    def list_banks(self, uow: Uow) -> list[banks.VersionInfo]:
        with uow() as db:
            return banks.list_banks(db)

    # A bank file may be larger than a JSON body (images: decision 0032), up to the upload limit.
    @post("/lint", summary="Lint a bank file without storing it", status_code=200,
          request_max_body_size=MAX_UPLOAD_BYTES)  # fmt: skip
    async def lint(self, data: Multipart) -> LintReportOut:
        raw, name, fmt = await _read(data)
        return _report_out(name, banks.lint_upload(raw, source=name, fmt=fmt))

    @post("/{bank:str}/import", summary="Import a bank file as a new draft version",
          request_max_body_size=MAX_UPLOAD_BYTES)  # fmt: skip
    async def import_file(
        self, request: Request[Any, Any, Any], uow: Uow, bank: BankName, data: Multipart
    ) -> ImportOut:
        raw, name, fmt = await _read(data)
        author = principal_of(request).user_id

        def work(db: Session) -> ImportOut:
            outcome = banks.import_file(
                db, data=raw, source=name, bank=bank, fmt=fmt, now=_now(), author_id=author
            )
            info = outcome.version
            if data.publish:
                info = banks.publish(db, bank=bank, version=info.version, now=_now())
            return ImportOut(
                version=info, unchanged=outcome.unchanged, lint=_report_out(name, outcome.report)
            )

        return await uow.run(work)

    @get("/{bank:str}/versions", summary="Every version of a bank", sync_to_thread=True)
    def versions(self, uow: Uow, bank: BankName) -> list[banks.VersionInfo]:
        with uow() as db:
            return banks.list_versions(db, bank=bank)

    @post(
        "/{bank:str}/versions/{version:int}/publish",
        summary="Publish a draft version (it never changes again)",
        status_code=200,
        sync_to_thread=True,
    )
    def publish(self, uow: Uow, bank: BankName, version: Version) -> banks.VersionInfo:
        with uow() as db:
            return banks.publish(db, bank=bank, version=version, now=_now())

    @get("/{bank:str}/items", summary="Search a version's items", sync_to_thread=True)
    def items(
        self,
        *,
        uow: Uow,
        bank: BankName,
        version: LatestVersion = None,
        q: Filter = "",
        topic: Filter = "",
        kind: Filter = "",
        status: Filter = "",
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> banks.ItemPage:
        with uow() as db:
            return banks.search_items(
                db,
                bank=bank,
                version=version,
                text=q,
                topic=topic,
                kind=kind,
                status=status,
                offset=offset,
                limit=limit,
            )

    @get("/{bank:str}/items/{key:str}", summary="One item", sync_to_thread=True)
    def item(
        self,
        uow: Uow,
        bank: BankName,
        key: ItemKey,
        version: LatestVersion = None,
    ) -> Item:
        with uow() as db:
            return banks.get_item(db, bank=bank, key=key, version=version)

    @put(
        "/{bank:str}/items/{key:str}",
        summary="Create or edit an item (a new version if published)",
        sync_to_thread=True,
    )
    def save_item(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        key: ItemKey,
        data: JSONBody[Item],
    ) -> banks.VersionInfo:
        with uow() as db:
            item = msgspec.structs.replace(data, key=key)
            author = principal_of(request).user_id
            return banks.save_item(db, bank=bank, item=item, now=_now(), author_id=author)

    @get(
        "/{bank:str}/export",
        summary="Export a version in any format",
        sync_to_thread=True,
        operation_class=replying_in(*(media for media, _ in MEDIA_TYPES.values())),
    )
    def export(
        self,
        uow: Uow,
        bank: BankName,
        format: FromQuery[FormatName],
        version: LatestVersion = None,
    ) -> Response[bytes]:
        with uow() as db:
            body = banks.export(db, bank=bank, fmt=format, version=version)
            media_type, suffix = MEDIA_TYPES[format]
            info = banks.version_info(db, bank=bank, version=version)
            filename = f"{bank}-v{info.version}.{suffix}"
            return Response(
                body,
                media_type=media_type,
                headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(filename)}"},
            )

    @get(
        "/{bank:str}/export/losses",
        summary="What an export in a format cannot carry, item by item",
        sync_to_thread=True,
    )
    def export_losses(
        self,
        uow: Uow,
        bank: BankName,
        format: FromQuery[FormatName],
        version: LatestVersion = None,
    ) -> ExportLosses:
        with uow() as db:
            info = banks.version_info(db, bank=bank, version=version)
            result = banks.export_report(db, bank=bank, fmt=format, version=info.version)
            return ExportLosses(
                format=format,
                version=info.version,
                items=info.item_count,
                warnings=result.warnings,
            )

    @get("/{bank:str}/diff", summary="What changed between two versions", sync_to_thread=True)
    def diff(self, uow: Uow, bank: BankName, old: Version, new: Version) -> BankDiff:
        with uow() as db:
            return banks.diff_versions(db, bank=bank, old=old, new=new)

    @get("/{bank:str}/stats", summary="Item analysis from stored responses", sync_to_thread=True)
    def stats(self, uow: Uow, bank: BankName, version: LatestVersion = None) -> ExamStats:
        with uow() as db:
            return banks.item_analysis(db, bank=bank, version=version)

    @post(
        "/{bank:str}/calibrations",
        summary="Calibrate a bank version from its stored formal responses (IRT)",
        description=(
            "Fits the 2PL or Rasch model to the graded formal responses of the version "
            "(the latest if ``version`` is null), links it to the bank's latest calibration "
            "through the common items and stores it as the bank's next number. Items with "
            "fewer responses than ``EXAMENGINE_CALIBRATION_MIN_RESPONSES`` stay provisional "
            "on their authored difficulty. 201 with the calibration; 404 for an unknown bank "
            "or version; 422 naming a bad field."
        ),
    )
    async def calibrate(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        bank: BankName,
        data: JSONBody[CalibrateRequest],
    ) -> calibrations.CalibrationRecord:
        settings: Settings = state.settings
        actor = principal_of(request).user_id

        def read(db: Session) -> calibrations.Prepared:
            return calibrations.prepare(
                db,
                bank=bank,
                version=data.version,
                model=data.model,
                min_responses=settings.exam.calibration_min_responses,
            )

        prepared = await uow.run(read)
        # the fit holds no transaction: seconds on a large bank, in a worker thread
        fitted = await to_thread.run_sync(calibrations.fit, prepared)
        return await uow.run(
            lambda db: calibrations.store(db, prepared, fitted, actor=actor, now=_now())
        )

    @get(
        "/{bank:str}/calibrations",
        summary="Every calibration of a bank, newest first",
        description="Counts per calibration (items, provisional, flagged), its link and notes.",
        sync_to_thread=True,
    )
    def list_calibrations(self, uow: Uow, bank: BankName) -> list[calibrations.CalibrationSummary]:
        with uow() as db:
            return calibrations.listing(db, bank)

    @get(
        "/{bank:str}/calibrations/{calibration:int}",
        summary="One calibration with every item's parameters, fit and drift",
        sync_to_thread=True,
    )
    def get_calibration(
        self, uow: Uow, bank: BankName, calibration: CalibrationNumber
    ) -> calibrations.CalibrationRecord:
        with uow() as db:
            return calibrations.get(db, bank, calibration)

    @get(
        "/{bank:str}/calibrations/{calibration:int}/dif",
        summary="Differential item functioning (Mantel–Haenszel) between groups of learners",
        description=(
            "Groups the learners of the calibration's responses by their account's employer, "
            "district or gender and compares ``focal`` with ``reference`` (every other "
            "learner with a label if left out), matched on their score. Only counts per "
            "group are answered, never a learner; an item is judged (ETS A/B/C) only when "
            "each group has at least 100 learners who had it."
        ),
        sync_to_thread=True,
    )
    def dif(
        self,
        *,
        uow: Uow,
        bank: BankName,
        calibration: CalibrationNumber,
        group: FromQuery[GroupName],
        focal: FromQuery[GroupLabel] = None,
        reference: FromQuery[GroupLabel] = None,
    ) -> calibrations.DifReport:
        """``focal``: the group compared; ``reference``: the group it is compared with
        (every other learner with a label if left out)."""
        with uow() as db:
            return calibrations.dif(
                db, bank, calibration, group=group, focal=focal or "", reference=reference
            )

    @get(
        "/{bank:str}/calibrations/{calibration:int}/groups",
        summary="The groups of learners large enough for DIF",
        description=(
            "The labels of the grouping among the calibration's learners that have at least "
            "100 learners, with their counts (smaller groups are not named)."
        ),
        sync_to_thread=True,
    )
    def dif_groups(
        self,
        uow: Uow,
        bank: BankName,
        calibration: CalibrationNumber,
        group: FromQuery[GroupName],
    ) -> list[calibrations.DifGroup]:
        with uow() as db:
            return calibrations.dif_groups(db, bank, calibration, group=group)


def _quote(name: str) -> str:
    return quote(name, safe="")
