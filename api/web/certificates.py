"""Certificates in the browser (docs/decisions/0028): the public verification page
(``/verify/{number}``, and ``/verify``, a form to type a number into) that anyone opens
from a certificate's QR code, without signing in, on a phone; the learner's "My
certificates" (``/learner/certificates``); the operators' certificates page
(``/operator/certificates``: search, look, print, revoke with a reason).

The verification page says what ``api.services.certificates.public_view`` says and
nothing more: genuine or not (and why not), current, superseded or revoked (and when);
the holder's name and masked ID number for a current certificate only. It counts
against the per-address limit of lookups (``api.http.certificates.verify_rate_limit``),
the JSON form ``/api/verify/{number}`` too. Revoking goes through the JSON API from
``/static/js/certificates.js``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.response import Redirect, Template
from sqlmodel import col, select

from api.http.certificates import VERIFY_LIMITED, number_of
from api.http.params import Filter, PageNumber
from api.services import certificates, keys
from api.services.certificates import Verification
from api.settings import Settings
from api.store.db import Uow
from api.store.tables import Employer
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, page_principal, render
from examengine import records
from examengine.clock import BEIJING
from examengine.records import RecordError

STATES: tuple[certificates.State, ...] = ("current", "superseded", "revoked")
STATE_BADGE = {"current": "badge--ok", "superseded": "badge--warn", "revoked": "badge--error"}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

i18n.register(
    {
        # ------------------------------------------------------------ shared words
        "cert.state.current": ("有效", "Current"),
        "cert.state.superseded": ("已被替换", "Superseded"),
        "cert.state.revoked": ("已撤销", "Revoked"),
        "cert.number": ("证书编号", "Certificate no."),
        "cert.name": ("姓名", "Name"),
        "cert.id": ("身份证号", "ID number"),
        "cert.employer": ("工作单位", "Employer"),
        "cert.plan": ("培训项目", "Plan"),
        "cert.year": ("年度", "Year"),
        "cert.year_value": ("{year} 年度", "{year}"),
        "cert.category": ("类别", "Category"),
        "cert.hours": ("学时", "Credit hours"),
        "cert.hours_value": (
            "必修 {required} 学时，选修 {elective} 学时，合计 {total} 学时",
            "{total} h ({required} h required, {elective} h elective)",
        ),
        "cert.result": ("考核结果", "Result"),
        "cert.result.passed": ("考核合格", "Passed"),
        "cert.result.completed": ("学时已修满", "Hours completed"),
        "cert.issuer": ("发证机构", "Issued by"),
        "cert.issued": ("发证日期", "Date of issue"),
        # A fact in a sentence: the colon as each language writes it.
        "cert.name_value": ("姓名：{name}", "Name: {name}"),
        "cert.employer_value": ("工作单位：{employer}", "Employer: {employer}"),
        "cert.issued_value": ("发证日期：{date}", "Date of issue: {date}"),
        "cert.state": ("状态", "State"),
        "cert.none_value": ("无", "none"),
        "cert.pdf": ("下载 PDF", "Download the PDF"),
        "cert.pdf_label": ("下载 PDF：证书 {number}", "Download the PDF: certificate {number}"),
        "cert.verify_link": ("核验页面", "Verification page"),
        "cert.verify_label": ("核验页面：证书 {number}", "Verification page: certificate {number}"),
        "cert.superseded_by": ("已由证书 {number} 替换", "Replaced by certificate {number}"),
        "cert.revoked_on": ("撤销于 {date}", "Revoked on {date}"),
        "cert.revoked_reason": ("撤销原因：{reason}", "Reason: {reason}"),
        "cert.cause.passed": ("考试合格后签发", "Issued when the exam was passed"),
        "cert.cause.completed": ("修满学时后签发", "Issued when the hours were completed"),
        "cert.cause.employer_changed": (
            "工作单位变更后换发",
            "Reissued after a change of employer",
        ),
        "cert.cause.name_changed": ("姓名变更后换发", "Reissued after a change of name"),
        "cert.category.public": ("公需科目", "Public subjects"),
        "cert.category.professional": ("专业科目", "Professional subjects"),
        # ---------------------------------------------------------- verification
        "verify.title": ("证书核验", "Certificate verification"),
        "verify.intro": (
            "输入证书上的编号，或扫描证书上的二维码，核验证书的真伪和状态。无需登录。",
            "Type the number printed on a certificate, or scan its QR code, to check that it "
            "is genuine and still current. No sign-in needed.",
        ),
        "verify.field": ("证书编号", "Certificate number"),
        "verify.hint": (
            "形如 {example}，大小写和短横线均可省略",
            "As in {example}; case and hyphens do not matter",
        ),
        "verify.submit": ("核验", "Verify"),
        "verify.again": ("核验其他证书", "Verify another certificate"),
        "verify.genuine": ("真实有效", "Genuine and current"),
        "verify.genuine_text": (
            "该证书由{issuer}签发，数字签名验证通过，目前有效。请核对下列信息与纸质证书一致。",
            "This certificate was issued by {issuer}; its digital signature holds and it is "
            "current. Check that the details below match the paper.",
        ),
        "verify.superseded": ("已被替换，不再有效", "Superseded: no longer valid"),
        "verify.superseded_text": (
            "该证书签发于 {issued}，已于 {date} 因持证人信息变更被新证书替换。"
            "请向持证人索取新证书后再行核验。",
            "This certificate, issued on {issued}, was replaced on {date} by a new one after "
            "a change of the holder's details. Ask the holder for the new certificate.",
        ),
        "verify.revoked": ("已撤销", "Revoked"),
        "verify.revoked_text": (
            "该证书签发于 {issued}，已于 {date} 被签发机构撤销，不能作为学时或考核合格的证明。",
            "This certificate, issued on {issued}, was revoked by its issuer on {date}: it "
            "proves neither hours nor a pass.",
        ),
        "verify.forged": ("不是真实证书", "Not genuine"),
        "verify.forged_text": (
            "该编号的证书记录未能通过数字签名验证，不能作为证明。原因：{reason}",
            "The record of this number fails its digital-signature check and proves nothing. "
            "Why: {reason}",
        ),
        "verify.unknown": ("未找到证书", "No such certificate"),
        "verify.unknown_text": (
            "没有编号为 {number} 的证书。请核对编号，或联系发证机构。",
            "No certificate has the number {number}. Check the number, or ask the issuer.",
        ),
        "verify.malformed": ("编号有误", "Not a certificate number"),
        "verify.too_many": ("查询过于频繁", "Too many lookups"),
        "verify.too_many_text": (
            "您所在网络在一分钟内查询证书次数过多，请 {seconds} 秒后再试。",
            "Too many certificates were looked up from your network within a minute; try "
            "again in {seconds} seconds.",
        ),
        "verify.details": ("证书信息", "The certificate"),
        "verify.how": (
            "核验方式：证书记录由签发机构以 Ed25519 数字签名，本页逐次用公布的公钥验证签名；"
            "修改过的记录或伪造的编号无法通过。",
            "How this is checked: the issuer signs each certificate's record (Ed25519) and "
            "this page checks the signature against the published keys at every lookup; an "
            "altered record or an invented number cannot pass.",
        ),
        "verify.keys": ("公钥", "Public keys"),
        "verify.json": ("机器可读格式（JSON）", "Machine-readable (JSON)"),
        "verify.privacy": (
            "为保护个人信息，仅显示姓名和部分隐去的身份证号。",
            "To protect personal data, only the name and a masked ID number are shown.",
        ),
        # ------------------------------------------------------- the learner's list
        "nav.my_certificates": ("我的证书", "My certificates"),
        "mine.title": ("我的证书", "My certificates"),
        "mine.intro": (
            "学习计划的学时修满并通过考试后，系统自动签发证书。证书可下载打印，"
            "扫描证书上的二维码即可核验真伪。工作单位或姓名变更后，系统会换发新证书，旧证书随之失效。",
            "A certificate is issued once a plan's hours are complete and its exam is passed. "
            "Download and print it; anyone can check it by scanning its QR code. After a "
            "change of employer or name a new one is issued and the old one stops being valid.",
        ),
        "mine.none": (
            "您还没有证书。完成学习计划的学时并通过考试后，证书会出现在这里。",
            "You have no certificate yet. It appears here once you complete a plan's hours "
            "and pass its exam.",
        ),
        # ------------------------------------------------------------ operators
        "operator.nav.certificates": ("证书管理", "Certificates"),
        "ops.title": ("证书管理", "Certificates"),
        "ops.intro": (
            "查询已签发的证书，下载 PDF，必要时撤销（须填写原因，原因仅内部记录，"
            "核验页面只显示已撤销及日期）。",
            "Find issued certificates, download their PDFs, and revoke one where needed (with "
            "a reason, kept internal: the verification page shows only that it was revoked "
            "and when).",
        ),
        "ops.filter.q": ("编号、姓名、身份证号或培训项目", "Number, name, ID number or plan"),
        "ops.filter.state": ("状态", "State"),
        "ops.filter.all": ("全部", "All"),
        "ops.filter.employer": ("单位", "Employer"),
        "ops.filter.apply": ("查询", "Search"),
        "ops.count": ("共 {n} 张证书", "{n} certificates"),
        "ops.none": ("没有符合条件的证书。", "No certificate matches."),
        "ops.col.actions": ("操作", "Actions"),
        "ops.revoke": ("撤销", "Revoke"),
        "ops.revoke_label": ("撤销证书 {number}", "Revoke certificate {number}"),
        "ops.revoke_title": ("撤销证书", "Revoke a certificate"),
        "ops.revoke_warning": (
            "撤销后，核验页面将显示该证书已撤销；撤销不能恢复，系统也不会为该学员的这一培训项目自动重新签发证书。",
            "Once revoked, the verification page says so. It cannot be undone, and no new "
            "certificate of this plan is issued to this learner by itself.",
        ),
        "ops.reason": ("撤销原因（必填，仅内部记录）", "Reason (required, kept internal)"),
        "ops.close": ("关闭", "Close"),
        "ops.prev": ("上一页", "Previous"),
        "ops.next": ("下一页", "Next"),
        "ops.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
        "js.cert.busy": ("正在撤销…", "Revoking…"),
        "js.cert.need_reason": ("请填写撤销原因。", "Enter the reason."),
        "js.cert.revoked": ("证书 {number} 已撤销。", "Certificate {number} is revoked."),
    }
)


def day(ms: int | None, lang: str) -> str:
    """A date in Beijing as the page's language writes it."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING)
    if lang == "en":
        return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
    return f"{moment.year}年{moment.month}月{moment.day}日"


def hours(value: float) -> str:
    return records.hours_text(value)


def category(code: str, lang: str) -> str:
    key = f"cert.category.{code}"
    return i18n.t(key, lang) if i18n.known(key) else code


def _state_filter(raw: str) -> certificates.State | None:
    for known in STATES:
        if raw == known:
            return known
    return None


def _settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def _context() -> dict[str, Any]:
    return {
        "day": day,
        "hours": hours,
        "category": category,
        "state_badge": STATE_BADGE,
        "example": records.EXAMPLE,
    }


def too_many_page(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Response[Any]:
    """429 as a page, with its Retry-After."""
    wait = dict(exc.headers or {}).get("Retry-After", "60")
    page = render(
        request,
        "certificates/verify.html",
        status_code=429,
        verdict="too_many",
        number="",
        seconds=wait,
        **_context(),
    )
    page.headers["Retry-After"] = wait
    return page


class VerifyPages(Controller):
    """``/verify``: the public verification (no sign-in)."""

    path = "/verify"
    include_in_schema = False
    exception_handlers = {**PAGE_EXCEPTION_HANDLERS, TooManyRequestsException: too_many_page}

    @get("/", sync_to_thread=False)
    def lookup(
        self, request: Request[Any, Any, Any], *, number: Filter = ""
    ) -> Template | Redirect:
        """The form; a number typed into it goes to its page in its normal form."""
        if number.strip():
            try:
                return Redirect(f"/verify/{quote(number_of(number, field='number'))}")
            except RecordError as exc:
                return render(
                    request,
                    "certificates/verify.html",
                    status_code=422,
                    verdict="malformed",
                    number=number,
                    error=exc,
                    **_context(),
                )
        return render(request, "certificates/verify.html", verdict=None, number="", **_context())

    @get("/{certificate:str}", sync_to_thread=True, opt={VERIFY_LIMITED: True})
    def verify(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, certificate: Filter
    ) -> Template:
        try:
            number = number_of(certificate, field="number")
        except RecordError as exc:
            return render(
                request,
                "certificates/verify.html",
                status_code=422,
                verdict="malformed",
                number=certificate,
                error=exc,
                **_context(),
            )
        try:
            with uow() as db:
                found: Verification = certificates.public_view(
                    db, number=number, trusted=keys.published(_settings(state).records)
                )
        except RecordError:
            return render(
                request,
                "certificates/verify.html",
                status_code=404,
                verdict="unknown",
                number=number,
                **_context(),
            )
        if not found.genuine:
            verdict = "forged"
        else:
            verdict = {"current": "genuine", "superseded": "superseded", "revoked": "revoked"}[
                found.state
            ]
        return render(
            request,
            "certificates/verify.html",
            verdict=verdict,
            number=number,
            found=found,
            **_context(),
        )


class LearnerCertificatePages(Controller):
    """``/learner/certificates``: my certificates."""

    path = "/learner/certificates"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def mine(self, request: Request[Any, Any, Any], uow: Uow, state: State) -> Template:
        principal = page_principal(request, "learner")
        with uow() as db:
            certificates.issue_due(
                db,
                learner_id=principal.user_id,
                now=int(state.clock.now_ms()),
                settings=_settings(state).records,
            )
            listed = certificates.mine(db, learner_id=principal.user_id)
        return render(request, "certificates/mine.html", listed=listed.certificates, **_context())


class OperatorCertificatePages(Controller):
    """``/operator/certificates``: every certificate, for operators."""

    path = "/operator/certificates"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def listing(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        *,
        q: Filter = "",
        status: Filter = "",
        employer: Filter = "",
        page: PageNumber = 1,
    ) -> Template:
        page_principal(request, "operator")
        chosen = _state_filter(status)
        with uow() as db:
            listed = certificates.search(
                db,
                query=q,
                state=chosen,
                employer=employer.strip() or None,
                page=page,
            )
            employers = list(db.exec(select(Employer.name).order_by(col(Employer.name))))
        query = {"q": q, "status": status, "employer": employer}
        pages = max(1, -(-listed.total // listed.page_size))
        return render(
            request,
            "certificates/operator.html",
            listed=listed,
            rows=listed.certificates,
            q=q,
            status=chosen or "",
            employer=employer,
            employers=employers,
            states=STATES,
            pages=pages,
            page_url=lambda n: "/operator/certificates?" + urlencode({**query, "page": n}),
            **_context(),
        )


__all__ = ["LearnerCertificatePages", "OperatorCertificatePages", "VerifyPages", "day"]
