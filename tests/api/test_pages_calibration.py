"""The author's calibration pages without a browser (docs/decisions/0040): the list and
the "calibrate now" form, a calibration's parameters with provisional, anchor, misfit and
drift badges and a curve per item, DIF between groups with the ETS class and its
evidence, item analysis with the calibrated a and b, the exam's test information — in
both languages, for authors only (tests/e2e/test_calibration_pages.py looks at them in
Chromium).

The responses are simulated from a 2PL model with known parameters for a cohort of
learners with real accounts and attempts (so DIF can group them), and calibrated by the
real service (``api.services.calibration``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import msgspec
import numpy as np
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import Session, col, select

from api.cli.demo import DEMO_BANK, DEMO_EXAM, load_demo
from api.services import banks, exams
from api.services import calibration as calibrations
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import (
    Attempt,
    BankVersion,
    CalibrationItem,
    ExamVersion,
    ItemResponse,
    Paper,
    User,
)
from api.store.tables import Calibration as CalibrationRow
from api.web.charts import number
from api.web.common import fmt_score
from examengine.blueprint import PassStandard
from tests.api.test_pages_author_views import author, html_of, text_of

__all__ = ["author"]  # the signed-in author fixture, shared with the other author pages

Client = AsyncTestClient[Litestar]
LEARNER = ("11010519491231002X", "learner-demo-1")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff01-\uff5e]")

#: The simulated cohort: half female, half male (DIF needs 100 a group).
LEARNERS = 240
#: Items (by position in the demo bank) built to show each mark: a very steep one that
#: misfits, one harder for women than for men of the same ability (DIF), one the second
#: cohort hardly answers (its parameters carried from the first calibration); and ``FEW``
#: items answered by too few learners that no calibration fitted before (provisional).
STEEP, DIF_ITEM, CARRIED, FEW = 6, 10, 14, 3
FEW_LEARNERS = 40


def few_keys(db: Session) -> list[str]:
    """``FEW`` items the demo's calibration left provisional (its simulated cohort never
    had them): answered by too few learners here they stay provisional, as no earlier
    calibration has parameters to carry forward."""
    keys = [i.key for i in banks.load_items(db, bank=DEMO_BANK, version=1)]
    special = {keys[j] for j in (STEEP, DIF_ITEM, DIF_ITEM + 1, CARRIED)}
    demo = calibrations.get(db, DEMO_BANK, 1)
    found = [i.key for i in demo.items if i.provisional and i.key not in special][:FEW]
    assert len(found) == FEW, found
    return found


def seed_cohort(
    db: Session, *, seed: int = 7, shift: float = 0.0, carried: Collection[str] = ()
) -> list[str]:
    """Item responses of ``LEARNERS`` simulated learners to the demo bank's version 1
    (accounts and formal attempts created the first time; each call replaces the
    responses). ``shift`` moves the difficulty of item ``DIF_ITEM + 1`` (drift between
    calibrations); the ``few_keys`` and the ``carried`` items are answered by only
    ``FEW_LEARNERS``. Returns the bank's item keys."""
    few = {*few_keys(db), *carried}
    version_id = db.exec(select(BankVersion.id).where(BankVersion.version == 1)).first()
    assert version_id is not None
    keys = [i.key for i in banks.load_items(db, bank=DEMO_BANK, version=1)]
    refs = [f"calsim{n:05d}" for n in range(LEARNERS)]
    if db.get(Attempt, refs[0]) is None:
        exam_version = db.exec(select(ExamVersion.id)).first()
        assert exam_version is not None
        paper = Paper(
            exam_version_id=exam_version, learner_ref="calsim", attempt=1, seed="0", content="{}"
        )
        db.add(paper)
        db.flush()
        assert paper.id is not None
        for n, ref in enumerate(refs):
            user = User(
                login=f"calsim-{n}",
                display_name=f"模拟学员 {n}",
                password_hash="-",
                roles=["learner"],
                must_change_password=False,
                gender="female" if n % 2 else "male",
                employer="模拟单位甲" if n < 150 else "模拟单位乙",
            )
            db.add(user)
            db.flush()
            assert user.id is not None
            db.add(
                Attempt(
                    id=ref, learner_id=user.id, exam_key=DEMO_EXAM, exam_version_id=exam_version,
                    paper_id=paper.id, number=1, cycle=1, practice=False, state="submitted",
                    policy="expire_fail", started_ms=0, deadline_ms=1, finished_ms=1,
                    closed_ms=1, device="sim",
                )
            )  # fmt: skip
    db.execute(sa.delete(ItemResponse).where(col(ItemResponse.bank_version_id) == version_id))
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=LEARNERS)
    a = rng.uniform(0.8, 1.8, len(keys))
    b = np.linspace(-1.5, 1.5, len(keys))
    a[STEEP] = 6.0
    b[DIF_ITEM + 1] += shift
    female = np.arange(LEARNERS) % 2 == 1
    bb = np.tile(b, (LEARNERS, 1))
    bb[female, DIF_ITEM] += 1.5
    right = rng.random((LEARNERS, len(keys))) < 1 / (1 + np.exp(-a * (theta[:, None] - bb)))
    rows: list[dict[str, Any]] = []
    for n, ref in enumerate(refs):
        for j, key in enumerate(keys):
            if key in few and n >= FEW_LEARNERS:
                continue
            rows.append(
                {
                    "bank_version_id": version_id, "item_key": key, "learner_ref": ref,
                    "response": "sim", "score": float(right[n, j]), "max_score": 1.0,
                    "created_at": datetime.now(UTC),
                }
            )  # fmt: skip
    db.execute(sa.insert(ItemResponse), rows)
    return keys


def calibrate(db: Session, *, model: str = "2pl") -> calibrations.CalibrationRecord:
    return calibrations.calibrate(
        db, bank=DEMO_BANK, version=1, model=model, actor=None, now=datetime.now(UTC)
    )


@pytest.fixture
def calibrated(author: Client, app_settings: Settings) -> dict[str, Any]:
    """Two calibrations of the demo bank: the second after item ``DIF_ITEM + 1`` became
    1.5 logits harder (drift), linked to the first through the common items, and with
    item ``CARRIED`` hardly answered (kept from the first)."""
    with standalone_transaction(app_settings.database) as db:
        keys = seed_cohort(db)
        few = few_keys(db)
        first = calibrate(db)
    with standalone_transaction(app_settings.database) as db:
        seed_cohort(db, shift=1.5, carried=[keys[CARRIED]])
        second = calibrate(db)
        stems = {i.key: banks.get_item(db, bank=DEMO_BANK, key=i.key).stem for i in second.items}
    return {"keys": keys, "few": few, "first": first, "second": second, "stems": stems}


def row_of(html: str, key: str, table: str = "params") -> str:
    body = html.split(f'id="{table}"', 1)[1]
    found = re.search(rf'<tr[^>]*data-key="{re.escape(key)}"[^>]*>(.*?)</tr>', body, re.S)
    assert found is not None, key
    return found.group(1)


def english_words(html: str) -> str:
    """The English page's interface text: content (``data-content``) and the fitter's
    own notes left out, as the every-page sweep does."""
    html = re.sub(r"<(\w+)[^>]*data-content[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<script.*?</script>|<head>.*?</head>", " ", html, flags=re.S)
    html = re.sub(r'<a class="lang-switch".*?</a>', " ", html, flags=re.S)  # names 中文
    return text_of(html)


async def test_the_list_shows_each_calibration_with_its_counts_and_the_form(
    author: Client, calibrated: dict[str, Any]
) -> None:
    n = calibrated["second"].number
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/calibrations")
    assert (
        'id="calibrate-form"' in html and '<option value="rasch">Rasch（单参数）</option>' in html
    )
    rows = re.findall(r'<tr data-number="(\d+)">(.*?)</tr>', html, re.S)
    assert [int(number) for number, _ in rows][:2] == [n, n - 1]  # newest first
    second = text_of(rows[0][1])
    assert "双参数（2PL）" in second and f"{LEARNERS}" in second
    assert f"{FEW} / 31" in second  # provisional of all items
    assert f"法链接到第 {n - 1} 次" in second
    assert "未链接（首次校准）" in text_of(rows[-1][1])
    assert re.search(r'class="drifts"[^>]*>[1-9]', rows[0][1])  # the shifted item drifted
    # times in the display zone, which the page names
    assert "时间均为北京时间。" in html
    created = calibrated["second"].created_at.astimezone(UTC)
    local = created.timestamp() + 8 * 3600
    assert datetime.fromtimestamp(local, UTC).strftime("%Y-%m-%d %H:%M") in html
    english = await html_of(author, f"/author/banks/{DEMO_BANK}/calibrations?lang=en")
    assert "Calibrate now" in english and "Two-parameter (2PL)" in english
    assert not CJK.search(english_words(english)), CJK.findall(english_words(english))


async def test_a_bank_never_calibrated_says_so(author: Client, app_settings: Settings) -> None:
    with standalone_transaction(app_settings.database) as db:  # the demo's calibration gone
        db.execute(sa.delete(CalibrationItem))
        db.execute(sa.delete(CalibrationRow))
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/calibrations")
    assert 'id="no-calibrations"' in html and "该题库还没有校准记录。" in html
    stats = await html_of(author, f"/author/banks/{DEMO_BANK}/stats")
    assert (
        "该题库还没有校准。" in stats and f"/author/banks/{quote(DEMO_BANK)}/calibrations" in stats
    )


async def test_the_record_shows_parameters_by_stem_with_badges_and_their_evidence(
    author: Client, calibrated: dict[str, Any]
) -> None:
    keys, second = calibrated["keys"], calibrated["second"]
    n = second.number
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/calibrations/{n}")
    by_key = {i.key: i for i in second.items}
    # provisional: the items few learners answered, with the rule
    few = row_of(html, calibrated["few"][-1])
    assert 'data-badge="provisional"' in few and ">暂定<" in few
    assert "作答人数少于 200：难度取编写值，a = 1" in few
    # an item calibrated before and hardly answered now keeps the earlier a and b
    kept = row_of(html, keys[CARRIED])
    before = next(i for i in calibrated["first"].items if i.key == keys[CARRIED])
    assert 'data-badge="carried"' in kept and ">沿用旧参数<" in kept
    assert "a、b 沿用上一次校准" in kept and f"{before.a:.2f}" in kept
    # the item's stem (an excerpt), not only its key
    stem = calibrated["stems"][keys[0]]
    assert re.sub(r"\s+", " ", stem)[:12] in text_of(row_of(html, keys[0]))
    # anchors: the items linking calibration 2 to 1
    anchors = [k for k in keys if by_key[k].anchor]
    assert anchors and all('data-badge="anchor"' in row_of(html, k) for k in anchors)
    # misfit: the very steep item, with its fit statistics as evidence
    steep = by_key[keys[STEEP]]
    assert "misfit" in steep.flags
    row = row_of(html, keys[STEEP])
    assert 'data-badge="misfit"' in row and f"outfit {steep.outfit:.2f}" in row
    # drift: the item made harder between the calibrations, with Δb
    moved = by_key[keys[DIF_ITEM + 1]]
    assert "drift" in moved.flags and moved.drift_b is not None and moved.drift_b > 0.5
    row = row_of(html, keys[DIF_ITEM + 1])
    assert f"漂移 Δb = +{moved.drift_b:.2f}" in row
    assert f"b：{number(moved.b - moved.drift_b)} → {number(moved.b)}" in row
    # a and b with their standard errors
    item = by_key[keys[0]]
    assert f"{item.a:.2f} ({item.se_a:.2f})" in text_of(row_of(html, keys[0]))
    # a curve per item, an accessible image with its numbers
    assert html.count('<details class="icc-details">') == len(keys)
    curve = html.split(f'data-curve="{keys[0]}"', 1)[1].split("</tr>", 1)[0]
    assert f'data-a="{by_key[keys[0]].a:.4f}" data-b="{by_key[keys[0]].b:.4f}"' in curve
    assert '<svg viewBox="0 0 360 240" role="img" aria-labelledby="icc-0-t icc-0-d"' in html
    # notes a reader must know, in the page's language
    notes = text_of(html.split('id="calibration-notes"', 1)[1].split("</section>", 1)[0])
    assert f"{FEW} 道试题作答人数少于 200" in notes
    assert "1 道试题本次作答不足，沿用上一次校准的参数" in notes
    english = await html_of(author, f"/author/banks/{DEMO_BANK}/calibrations/{n}?lang=en")
    assert "provisional" in english and "anchor" in english and "misfit" in english
    assert f"drift Δb = +{moved.drift_b:.2f}" in english
    assert "Ability θ (logits)" in english
    assert not CJK.search(english_words(english)), CJK.findall(english_words(english))


async def test_dif_shows_the_ets_class_and_the_evidence_per_item(
    author: Client, calibrated: dict[str, Any]
) -> None:
    keys, n = calibrated["keys"], calibrated["second"].number
    url = f"/author/banks/{DEMO_BANK}/calibrations/{n}?group=gender&focal=female&reference=male"
    html = await html_of(author, url)
    assert 'id="dif-results"' in html
    row = row_of(html, keys[DIF_ITEM], "dif-table")
    assert "C（明显，需审查）" in row
    cells = re.findall(r'class="num"[^>]*>([^<]*)<', row)
    assert cells[:2] == [str(LEARNERS // 2), str(LEARNERS // 2)]  # focal, reference learners
    assert cells[3].startswith("−")  # Δ_MH: the item favours the reference group
    # class C first
    first = re.search(r'<tbody>\s*<tr[^>]*data-key="([^"]+)"', html.split('id="dif-table"')[1])
    assert first is not None and first.group(1) == keys[DIF_ITEM]
    # the items few learners had cannot be judged
    assert "人数不足，无法判断" in row_of(html, calibrated["few"][-1], "dif-table")
    assert re.search(r"C 级 [1-9]\d* 道", text_of(html))
    # the groups large enough are offered, in words
    assert ">女</span>（120 人）" in html and ">男</span>（120 人）" in html
    english = await html_of(author, url + "&lang=en")
    assert "C (large: review)" in english and "too few to judge" in english
    assert not CJK.search(english_words(english)), CJK.findall(english_words(english))


async def test_a_group_too_small_is_too_few_to_judge_and_a_bad_request_is_named(
    author: Client, calibrated: dict[str, Any]
) -> None:
    base = f"/author/banks/{DEMO_BANK}/calibrations/{calibrated['second'].number}"
    small = await html_of(author, base + "?group=employer&focal=模拟单位乙")
    assert "C 级 0 道，B 级 0 道，A 级 0 道，人数不足无法判断 31 道。" in text_of(small)
    refused = await html_of(author, base + "?group=gender&focal=unknown")
    assert 'id="dif-error"' in refused and "性别应为 male 或 female" in refused
    english = await html_of(author, base + "?group=gender&focal=female&reference=female&lang=en")
    assert "reference: the reference group must differ from the focal group" in english


async def test_item_analysis_shows_the_latest_calibrated_parameters_and_provisional_items(
    author: Client, calibrated: dict[str, Any]
) -> None:
    keys, second = calibrated["keys"], calibrated["second"]
    n = second.number
    html = await html_of(author, f"/author/banks/{DEMO_BANK}/stats?version=1")
    assert f"a、b 取自第 {n} 次校准（题库第 1 版的作答）。" in html
    item = next(i for i in second.items if i.key == keys[0])
    row = row_of(html, keys[0], "stats-table")
    assert f">{number(item.a)}<" in row and f">{number(item.b)}<" in row
    assert 'data-badge="provisional"' in row_of(html, calibrated["few"][-1], "stats-table")
    assert 'data-badge="carried"' in row_of(html, keys[CARRIED], "stats-table")
    assert 'data-badge="misfit"' in row_of(html, keys[STEEP], "stats-table")
    assert f"/author/banks/{quote(DEMO_BANK)}/calibrations/{n}" in html
    english = await html_of(author, f"/author/banks/{DEMO_BANK}/stats?version=1&lang=en")
    assert f"a and b from calibration {n} (responses of bank version 1)." in english


async def test_the_exam_information_page_draws_the_band_and_names_the_standard(
    author: Client, calibrated: dict[str, Any]
) -> None:
    html = await html_of(author, f"/author/exams/{DEMO_EXAM}/information")
    assert 'class="info-band"' in html and 'class="info-mean"' in html
    assert "原始分：每份试卷 60% 的分数" in html
    assert "200 份试卷" in html
    assert 'id="no-cut"' in html  # no calibration: no θ_c, and the page says why
    english = await html_of(author, f"/author/exams/{DEMO_EXAM}/information?lang=en")
    assert "Test information curve" in english and "Raw: 60% of each paper" in english
    assert not CJK.search(english_words(english)), CJK.findall(english_words(english))


@pytest.mark.parametrize(
    "path",
    [
        f"/author/banks/{DEMO_BANK}/calibrations",
        f"/author/banks/{DEMO_BANK}/calibrations/1",
        f"/author/exams/{DEMO_EXAM}/information",
    ],
)
async def test_learners_are_sent_home_and_strangers_to_the_sign_in(
    app_client: Client, app_settings: Settings, path: str
) -> None:
    with standalone_transaction(app_settings.database) as db:
        load_demo(db, now=datetime.now(UTC))
    anonymous = await app_client.get(path, follow_redirects=False)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/login?next=")
    response = await app_client.post(
        "/auth/login", json={"login": LEARNER[0], "password": LEARNER[1]}
    )
    assert response.status_code == 200
    refused = await app_client.get(path, follow_redirects=False)
    assert refused.status_code in (302, 303) and refused.headers["location"] == "/learner/exams"


async def test_an_unknown_calibration_is_a_page_saying_so(author: Client) -> None:
    response = await author.get(f"/author/banks/{DEMO_BANK}/calibrations/9")
    assert response.status_code == 404
    assert "没有第 9 次校准" in response.text and "<html" in response.text


def publish_equated(db: Session, number: int) -> int:
    """A new published version of the demo exam assembled on calibration ``number``
    with the equated pass standard; its version number."""
    spec = exams.exam_detail(db, exam=DEMO_EXAM).spec
    equated = msgspec.structs.replace(spec, calibration=number, pass_standard=PassStandard.EQUATED)
    saved = exams.save_spec(db, equated, now=datetime.now(UTC))
    exams.publish(db, exam=DEMO_EXAM, version=saved.version.version, now=datetime.now(UTC))
    return saved.version.version


async def test_the_information_of_an_equated_exam_marks_theta_c_and_names_the_standard(
    author: Client, app_settings: Settings, calibrated: dict[str, Any]
) -> None:
    n = calibrated["second"].number
    with standalone_transaction(app_settings.database) as db:
        publish_equated(db, n)
        band = calibrations.exam_information(db, DEMO_EXAM, papers=200)
    assert band.theta_cut is not None and band.at_cut is not None
    html = await html_of(author, f"/author/exams/{DEMO_EXAM}/information")
    assert 'class="info-cut"' in html and 'id="no-cut"' not in html
    assert "等值：每份试卷的合格分由 θc 处的期望得分确定" in html
    assert f"{number(band.theta_cut)} logit" in html
    assert f"第 {n} 次校准" in html
    mean, low, high = band.at_cut
    assert f"平均 {number(mean)}，第 5–95 百分位 {number(low)}–{number(high)}" in html
    english = await html_of(author, f"/author/exams/{DEMO_EXAM}/information?lang=en")
    assert f"Pass point θc = {number(band.theta_cut)}" in english
    assert not CJK.search(english_words(english)), CJK.findall(english_words(english))


async def test_the_learner_sees_the_pass_mark_of_their_paper_under_the_equated_standard(
    app_client: Client, app_settings: Settings, calibrated: dict[str, Any]
) -> None:
    with standalone_transaction(app_settings.database) as db:
        publish_equated(db, calibrated["second"].number)
    app_client.cookies.clear()
    signed = await app_client.post(
        "/auth/login", json={"login": LEARNER[0], "password": LEARNER[1]}
    )
    assert signed.status_code == 200, signed.text
    await app_client.get("/auth/me")
    app_client.headers["x-csrftoken"] = app_client.cookies["csrftoken"]
    started = await app_client.post(f"/api/exams/{DEMO_EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    attempt = started.json()["attempt"]
    submitted = await app_client.post(f"/api/attempts/{attempt}/submit", json={})
    assert submitted.status_code == 200, submitted.text
    result = (await app_client.get(f"/api/attempts/{attempt}/result")).json()
    assert result["pass_standard"] == "equated" and result["pass_score"] is not None
    html = await html_of(app_client, f"/learner/attempts/{attempt}/result")
    mark = text_of(html.split('id="pass-mark"', 1)[1].split("</dd>", 1)[0])
    score, top = fmt_score(result["pass_score"]), fmt_score(result["max_score"])
    assert f"{score} 分（满分 {top} 分，按等值换算）" in mark and "本卷合格线" in html
    assert "能力相同的学员合格的机会相同" in mark
    english = await html_of(app_client, f"/learner/attempts/{attempt}/result?lang=en")
    assert "Pass mark of your paper" in english
    assert (
        f"{fmt_score(result['pass_score'])} of {fmt_score(result['max_score'])} points (equated)"
        in english
    )
