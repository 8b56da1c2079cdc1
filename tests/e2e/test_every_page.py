"""Every page of every role, in Chinese and English, on a desk (1280 px) and a phone
(390 px): measured with axe-core and read for stray Chinese (docs/decisions/0036).

For each screen the test

1. injects axe-core (``node_modules/axe-core/axe.min.js``, pinned in package.json and
   installed by ``npm ci`` from ``make install-test``) and fails listing every serious or
   critical violation (WCAG 2.1 A and AA rules and axe's best practices);
2. in English, fails on CJK characters outside regions marked ``data-content`` (course
   content, exam and plan titles, people's names: what authors and users wrote) — in
   text, in ``aria-label``/``title``/``placeholder``/``alt`` and in the page's title;
3. saves a full-page screenshot, ``artifacts/screenshots/every-<page>-<lang>-<width>.png``
   (git-ignored; docs/screens.md names the key ones).

One browser; one context per role, signed in once and reused (the language follows the
``?lang=`` of each visit). The pages' data is made once per module: a learner of its own
with a certificate, an open formal attempt and a submitted practice one; the demo's
accounts for the rest. A page the test cannot find a link to fails, so a new route is
added here (``PAGES``) when it is added to the app.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from litestar import Router
from playwright.async_api import Browser, BrowserContext
from sqlmodel import select

from api.cli.demo import DEMO_BANK, DEMO_EXAM, DEMO_LEARNER
from api.services import attempts
from api.store.db import standalone_transaction
from api.store.tables import User
from api.web import PAGE_HANDLERS
from tests.e2e.conftest import PASSWORD, SCREENSHOTS, Server
from tests.e2e.test_verify import certify
from tests.server import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)
LANGS = ("zh", "en")
#: Who signs in for a page: the demo accounts, or the module's own learner ("learner").
ACCOUNTS = {
    "demo_learner": (DEMO_LEARNER, "learner-demo-1"),
    "author": ("13800000001", "author-demo-1"),
    "proctor": ("13800000002", "proctor-demo-1"),
    "operator": ("13800000003", "operator-demo-1"),
    "employer": ("13800000005", "employer-demo-1"),
}

#: (name, role, path): ``{…}`` fields come from ``World``; ``anonymous`` signs in as no one.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("login", "anonymous", "/login"),
    ("activate", "anonymous", "/activate"),
    ("verify", "anonymous", "/verify"),
    ("verify-certificate", "anonymous", "/verify/{certificate}"),
    ("password", "learner", "/password"),
    ("learner-exams", "demo_learner", "/learner/exams"),
    ("learner-rules", "learner", "/learner/exams/{exam}/rules"),
    ("learner-exam", "learner", "/learner/attempts/{open_attempt}"),
    ("learner-result", "learner", "/learner/attempts/{closed_attempt}/result"),
    ("learner-plans", "demo_learner", "/learner/plans"),
    ("learner-study", "learner", "/learner/study/{chapter}"),
    ("learner-card", "demo_learner", "/learner/card"),
    ("learner-certificates", "learner", "/learner/certificates"),
    ("author-home", "author", "/author"),
    ("author-upload", "author", "/author/upload"),
    ("author-bank", "author", "/author/banks/{bank}"),
    ("author-diff", "author", "/author/banks/{bank}/diff"),
    ("author-items", "author", "/author/banks/{bank}/items"),
    ("author-item", "author", "{item}"),
    ("author-new-item", "author", "/author/banks/{bank}/new-item"),
    ("author-edit-item", "author", "{item}/edit"),
    ("author-stats", "author", "/author/banks/{bank}/stats"),
    ("author-new-exam", "author", "/author/exams/new"),
    ("author-edit-exam", "author", "/author/exams/{exam}/edit"),
    ("author-sample", "author", "/author/exams/{exam}/sample"),
    ("author-plans", "author", "/author/plans"),
    ("author-calibrations", "author", "/author/banks/{bank}/calibrations"),
    ("author-calibration", "author", "/author/banks/{bank}/calibrations/{calibration}"),
    (
        "author-calibration-dif",
        "author",
        "/author/banks/{bank}/calibrations/{calibration}?group=gender&focal=female",
    ),
    ("author-information", "author", "/author/exams/{exam}/information"),
    ("proctor-live", "proctor", "/proctor"),
    ("proctor-attempt-log", "proctor", "/proctor/attempts/{open_attempt}"),
    ("proctor-risk", "proctor", "/proctor/risk"),
    ("proctor-risk-attempt", "proctor", "/proctor/risk/attempts/{open_attempt}"),
    ("operator-orders", "operator", "/operator/orders"),
    ("operator-certificates", "operator", "/operator/certificates"),
    ("operator-card", "operator", "/operator/card"),
    ("employer-staff", "employer", "/employer"),
    ("employer-orders", "employer", "/employer/orders"),
    ("employer-staff-card", "employer", "/employer/staff/{demo_learner}/card"),
)

#: Chinese, Japanese and Korean characters (and CJK punctuation and full-width forms).
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

#: Text a reader of the English page sees, outside [data-content] and outside the
#: language switch (which names the other language in that language, lang="zh-CN").
#: A sentence, a label or the title may quote content (a learner's name, an exam's
#: title): the texts of the page's [data-content] elements are taken out of them before
#: they are read, so "张三's registration card" passes where 张三 is marked content, and
#: the full-width "（2026）" after a marked title still fails.
ENGLISH_TEXT = """() => {
  const skip = (el) => el.closest("[data-content], script, style, template, [lang^=zh]");
  const content = [...document.querySelectorAll("[data-content]")]
    .map((el) => el.textContent.trim())
    .filter(Boolean)
    .sort((a, b) => b.length - a.length);
  const unquote = (text) => content.reduce((left, quoted) => left.split(quoted).join(""), text);
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = unquote(node.textContent).trim();
    if (text && !skip(node.parentElement)) found.push(text);
  }
  for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
    if (skip(el)) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      const value = el.getAttribute(name);
      if (value) found.push(`${name}=${unquote(value)}`);
    }
  }
  found.push(`<title>${unquote(document.title)}`);
  return found;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
    }));
}"""


@dataclass
class World:
    """What the pages' paths name, and one signed-in context per role."""

    values: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, BrowserContext] = field(default_factory=dict)


async def _context(browser: Browser, server: Server, login: tuple[str, str] | None) -> Any:
    # axe is injected as a script tag: the pages' CSP (no inline scripts) is bypassed in
    # this context only, for the test's own script; the pages' scripts run as served.
    context = await browser.new_context(
        base_url=server.url, locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=True
    )
    context.set_default_timeout(15_000)
    if login is not None:
        signed = await context.request.post(
            "/auth/login", data={"login": login[0], "password": login[1]}
        )
        assert signed.ok, await signed.text()
    return context


def _own_learner(server: Server) -> tuple[str, str]:
    """A learner with a certificate (tests.e2e.test_verify), enrolled in the demo exam."""
    certified = certify(server, "沈佳怡")
    with standalone_transaction(server.database) as db:
        user = db.exec(select(User).where(User.login == certified.login)).one()
        assert user.id is not None
        attempts.enroll(db, learner_id=user.id, exam=DEMO_EXAM, study_met=True, now=server.now_ms())
    return certified.login, certified.number


async def _href(context: Any, path: str, selector: str) -> str:
    page = await context.new_page()
    try:
        await page.goto(path)
        href = await page.locator(selector).first.get_attribute("href")
        assert href, f"no {selector} on {path}"
        return str(href).split("?")[0]
    finally:
        await page.close()


@pytest.fixture(scope="module")
async def world(browser: Browser, e2e_server: Server) -> AsyncIterator[World]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install-test` (npm ci)", pytrace=False)
    world = World()
    login, number = _own_learner(e2e_server)
    world.contexts["anonymous"] = await _context(browser, e2e_server, None)
    world.contexts["learner"] = await _context(browser, e2e_server, (login, PASSWORD))
    for role, account in ACCOUNTS.items():
        world.contexts[role] = await _context(browser, e2e_server, account)
    learner = world.contexts["learner"].request
    # A practice attempt, answered and submitted (the result page), then a formal one
    # left open (the exam page, the proctor's log and risk pages).
    practice = await learner.post(f"/api/exams/{DEMO_EXAM}/attempts", data={"practice": True})
    assert practice.status == 201, await practice.text()
    paper = await practice.json()
    item = next(i for i in paper["items"] if i["kind"] == "single")
    save = [{"item": item["item"], "seq": 1, "response": item["options"][0]["id"]}]
    saved = await learner.post(f"/api/attempts/{paper['attempt']}/answers", data=save)
    assert saved.ok, await saved.text()
    submitted = await learner.post(f"/api/attempts/{paper['attempt']}/submit", data={})
    assert submitted.ok, await submitted.text()
    formal = await learner.post(f"/api/exams/{DEMO_EXAM}/attempts", data={"practice": False})
    assert formal.status == 201, await formal.text()
    bank = f"/author/banks/{quote(DEMO_BANK)}"
    author = world.contexts["author"]
    world.values = {
        "exam": quote(DEMO_EXAM),
        "bank": quote(DEMO_BANK),
        "open_attempt": str((await formal.json())["attempt"]),
        "closed_attempt": str(paper["attempt"]),
        "certificate": number,
        "demo_learner": DEMO_LEARNER,
        "chapter": (
            await _href(world.contexts["learner"], "/learner/plans", "a[href^='/learner/study/']")
        ).rsplit("/", 1)[-1],
        "item": await _href(author, f"{bank}/items", f"a[href^='{bank}/items/']"),
        "calibration": (
            await _href(author, f"{bank}/calibrations", f"a[href^='{bank}/calibrations/']")
        ).rsplit("/", 1)[-1],
    }
    try:
        yield world
    finally:
        for context in world.contexts.values():
            await context.close()


def _url(path: str, values: dict[str, str], lang: str) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path + ("&" if "?" in path else "?") + f"lang={lang}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("name", "role", "path"), PAGES, ids=[p[0] for p in PAGES])
async def test_every_page_is_accessible_and_in_one_language(
    world: World, name: str, role: str, path: str, lang: str, width: int
) -> None:
    page = await world.contexts[role].new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.set_viewport_size({"width": width, "height": 900})
        response = await page.goto(_url(path, world.values, lang))
        assert response is not None
        assert response.status < 400, f"{name}: {response.status} at {page.url}"
        await page.wait_for_load_state("networkidle")
        await page.screenshot(
            path=str(SCREENSHOTS / f"every-{name}-{lang}-{width}.png"), full_page=True
        )
        await page.add_script_tag(path=str(AXE))
        violations = await page.evaluate(AXE_RUN)
        problems = [json.dumps(v, ensure_ascii=False) for v in violations]
        if lang == "en":
            texts = await page.evaluate(ENGLISH_TEXT)
            problems += [f"Chinese on the English page: {t!r}" for t in texts if CJK.search(t)]
        assert not errors, f"JavaScript errors on {name}: {errors}"
        assert not problems, f"{name} ({lang}, {width} px):\n" + "\n".join(problems)
    finally:
        await page.close()


def test_the_sweep_covers_every_page_route() -> None:
    """Every GET page of api/web is in PAGES (a new page must be swept)."""
    pages = Router(path="/", route_handlers=PAGE_HANDLERS)
    routes = {
        re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for route in pages.routes
        if "GET" in getattr(route, "methods", set())
    }
    swept = {
        "/author/banks/{bank}/items/{key}",  # {item}: the first item's link
        "/author/banks/{bank}/items/{key}/edit",
        "/author/banks/{bank}/versions/{version}/topics",  # JSON for the spec builder
    }
    for _, _, path in PAGES:
        route = re.sub(r"\{(open|closed)_attempt\}", "{attempt_id}", path.split("?")[0])
        swept.add(route.replace("{exam}", "{key}").replace("{demo_learner}", "{login}"))
    not_swept = sorted(routes - swept - {"/"})
    assert not not_swept, f"pages not in PAGES: {not_swept}"


#: The focused element's look: its outline (or a box shadow standing in for it).
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  return { what: el.outerHTML.slice(0, 80), ring: outline || style.boxShadow !== "none" };
}"""


KEYBOARD_PAGES = [
    p for p in PAGES if p[0] in ("login", "learner-exams", "author-items", "proctor-live")
]


@pytest.mark.parametrize(
    ("name", "role", "path"), KEYBOARD_PAGES, ids=[p[0] for p in KEYBOARD_PAGES]
)
async def test_the_keyboard_focus_is_always_visible(
    world: World, name: str, role: str, path: str
) -> None:
    """Tab through the first controls of a page: each shows a focus ring (app.css)."""
    page = await world.contexts[role].new_page()
    try:
        await page.goto(_url(path, world.values, "en"))
        seen = []
        for _ in range(12):
            await page.keyboard.press("Tab")
            focused = await page.evaluate(FOCUS_RING)
            if focused is not None:
                seen.append(focused)
        assert seen, f"nothing on {name} takes the focus"
        assert all(f["ring"] for f in seen), [f["what"] for f in seen if not f["ring"]]
    finally:
        await page.close()
