"""What the author's calibration pages show (docs/decisions/0040): the words, and view
models built from ``api.services.calibration``'s records — a row per item with its
badges and the evidence behind each, notes a reader must know, the DIF results — and
the curves (``api.web.charts``). The handlers are ``api.web.author.AuthorPages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from api.services.calibration import SIMULATED_NOTE
from api.web import i18n
from api.web.charts import Curve, icc_chart, number
from itembank.calibration import FIT_RANGE  # the misfit rule: outside it, a number is marked

#: The groups DIF may compare (``api.services.calibration.dif``'s ``group``).
DIF_GROUPS = ("gender", "employer", "district")
MODELS = ("2pl", "rasch")

i18n.register(
    {
        "author.calibrations": ("校准", "Calibrations"),
        "author.cal.list_title": ("试题校准：{bank}", "Calibrations: {bank}"),
        "author.cal.intro": (
            "校准用学员在正式考试中的作答，为每道试题估计区分度 a 和难度 b（项目反应理论，"
            "单位为 logit）。作答人数不足的试题保留编写时的难度，标为“暂定”。"
            "新的校准通过与上一次校准共有的锚题换算到同一量尺上。",
            "A calibration fits each item's discrimination a and difficulty b (item "
            "response theory, in logits) to learners' answers in formal exams. Items with "
            "too few responses keep their authored difficulty and are marked provisional. "
            "A new calibration is put on the scale of the one before through the anchor "
            "items they share.",
        ),
        "author.cal.none": ("该题库还没有校准记录。", "This bank has not been calibrated yet."),
        "author.cal.new": ("立即校准", "Calibrate now"),
        "author.cal.version": ("作答来自题库版本", "Responses of bank version"),
        "author.cal.model": ("模型", "Model"),
        "author.cal.model.2pl": ("双参数（2PL）", "Two-parameter (2PL)"),
        "author.cal.model.rasch": ("Rasch（单参数）", "Rasch (one-parameter)"),
        "author.cal.start": ("开始校准", "Calibrate"),
        "author.cal.number": ("编号", "Number"),
        "author.cal.when": ("校准时间", "Calibrated"),
        "author.cal.learners": ("学员数", "Learners"),
        "author.cal.provisional_count": ("暂定试题", "Provisional items"),
        "author.cal.link": ("量尺链接", "Linked to"),
        "author.cal.misfits": ("不拟合", "Misfits"),
        "author.cal.drifts": ("参数漂移", "Drift"),
        "author.cal.simulated": ("模拟数据", "simulated"),
        "author.cal.open_label": ("查看第 {n} 次校准", "Open calibration {n}"),
        "author.cal.link.none": ("未链接（首次校准）", "not linked (first calibration)"),
        "author.cal.link.stocking_lord": (
            "Stocking–Lord 法链接到第 {previous} 次，{anchors} 道锚题",
            "Stocking–Lord to no. {previous}, {anchors} anchors",
        ),
        "author.cal.link.mean_sigma": (
            "均值–标准差法链接到第 {previous} 次，{anchors} 道锚题",
            "mean/sigma to no. {previous}, {anchors} anchors",
        ),
        "author.cal.link_constants": (
            "θ(旧) = {A} × θ(新) {B}",
            "θ(old) = {A} × θ(new) {B}",
        ),
        "author.cal.back_bank": ("返回题库", "Back to the bank"),
        "author.stats.calibrated_from": (
            "a、b 取自第 {n} 次校准（题库第 {version} 版的作答）。",
            "a and b from calibration {n} (responses of bank version {version}).",
        ),
        "author.stats.irt_a": ("IRT a", "IRT a"),
        "author.stats.irt_b": ("IRT b", "IRT b"),
        "author.stats.not_calibrated": ("该题库还没有校准。", "This bank is not calibrated yet."),
        "author.stats.all_calibrations": ("全部校准", "All calibrations"),
        # ---------------------------------------------------------------- record
        "author.cal.title": ("第 {n} 次校准：{bank}", "Calibration {n}: {bank}"),
        "author.cal.title_short": ("第 {n} 次校准：", "Calibration {n}: "),
        "author.cal.back": ("全部校准", "All calibrations"),
        "author.cal.fitter": ("拟合程序", "Fitted by"),
        "author.cal.converged": ("收敛", "Converged"),
        "author.cal.converged_yes": ("是（{n} 次迭代）", "yes ({n} iterations)"),
        "author.cal.converged_no": ("否（{n} 次迭代后停止）", "no (stopped after {n} iterations)"),
        "author.cal.min_responses": ("暂定阈值", "Provisional below"),
        "author.cal.min_responses_value": ("{n} 人作答", "{n} responses"),
        "author.cal.notes": ("说明", "Notes"),
        "author.cal.note.few.other": (
            "{n} 道试题作答人数少于 {min}，保留编写难度（a = 1），标为“暂定”。",
            "{n} items have fewer than {min} responses: they keep their authored "
            "difficulty (a = 1) and are marked provisional.",
        ),
        "author.cal.note.few.one": (
            "{n} 道试题作答人数少于 {min}，保留编写难度（a = 1），标为“暂定”。",
            "{n} item has fewer than {min} responses: it keeps its authored difficulty "
            "(a = 1) and is marked provisional.",
        ),
        "author.cal.note.carried.other": (
            "{n} 道试题本次作答不足，沿用上一次校准的参数（已在同一量尺上），标为“沿用旧参数”。",
            "{n} items had too few usable responses this time: they keep the parameters of "
            'the calibration before (on the same scale), marked "kept from before".',
        ),
        "author.cal.note.carried.one": (
            "{n} 道试题本次作答不足，沿用上一次校准的参数（已在同一量尺上），标为“沿用旧参数”。",
            "{n} item had too few usable responses this time: it keeps the parameters of "
            'the calibration before (on the same scale), marked "kept from before".',
        ),
        "author.cal.note.all_few": (
            "作答数据不足，全部试题保留编写难度：组卷和合格线暂不使用本次校准的参数。",
            "Too few responses: every item keeps its authored difficulty, so papers and "
            "pass marks gain nothing from this calibration yet.",
        ),
        "author.cal.note.not_converged": (
            "拟合未收敛，参数仅供参考。",
            "The fit did not converge: take the parameters as a guide only.",
        ),
        "author.cal.note.misfit.other": (
            "{n} 道试题拟合不佳（infit 或 outfit 均方超出 {lo}–{hi}），请检查题干和答案。",
            "{n} items fit poorly (infit or outfit mean square outside {lo}–{hi}): check "
            "their stems and keys.",
        ),
        "author.cal.note.misfit.one": (
            "{n} 道试题拟合不佳（infit 或 outfit 均方超出 {lo}–{hi}），请检查题干和答案。",
            "{n} item fits poorly (infit or outfit mean square outside {lo}–{hi}): check "
            "its stem and key.",
        ),
        "author.cal.note.drift.other": (
            "{n} 道共同试题的参数与上一次校准相比变化明显（漂移），可能已泄露或过时。",
            "{n} common items moved noticeably since the calibration before (drift): they "
            "may have leaked or dated.",
        ),
        "author.cal.note.drift.one": (
            "{n} 道共同试题的参数与上一次校准相比变化明显（漂移），可能已泄露或过时。",
            "{n} common item moved noticeably since the calibration before (drift): it may "
            "have leaked or dated.",
        ),
        "author.cal.note.not_linked": (
            "未能链接到上一次校准（共同的已校准试题太少），本次参数在自己的量尺上，"
            "不能与之前的校准直接比较。",
            "Not linked to the calibration before (too few common calibrated items): these "
            "parameters are on their own scale and do not compare with earlier ones.",
        ),
        "author.cal.note.simulated": (
            "演示数据：本次校准的作答含模拟学员，不是真实考试数据。",
            "Demo data: this calibration's responses include simulated learners, not real exams.",
        ),
        "author.cal.fitter_notes": ("拟合程序的原始说明（英文）", "The fitter's own notes"),
        "author.cal.params": ("试题参数", "Item parameters"),
        "author.cal.params_hint": (
            "a 为区分度，b 为难度（logit，越大越难），括号内为标准误；p 为答对比例；"
            "infit、outfit 为拟合均方（1 为完全拟合）。展开每题下方的“特征曲线”查看曲线和数据。",
            "a is the discrimination, b the difficulty (logits, higher is harder), with "
            "standard errors in brackets; p is the share answering right; infit and outfit "
            "are fit mean squares (1 is a perfect fit). Open “Characteristic curve” under "
            "an item for its curve and numbers.",
        ),
        "author.cal.item": ("试题", "Item"),
        "author.cal.a": ("区分度 a", "Discrimination a"),
        "author.cal.b": ("难度 b", "Difficulty b"),
        "author.cal.responses": ("作答人数", "Responses"),
        "author.cal.p_value": ("答对比例 p", "Share right p"),
        "author.cal.infit": ("infit", "Infit"),
        "author.cal.outfit": ("outfit", "Outfit"),
        "author.cal.badges": ("标记", "Marks"),
        "author.cal.curve": ("特征曲线", "Characteristic curve"),
        "author.cal.badge.provisional": ("暂定", "provisional"),
        "author.cal.badge.provisional_title": (
            "作答人数少于 {min}：难度取编写值，a = 1",
            "fewer than {min} responses: authored difficulty, a = 1",
        ),
        "author.cal.badge.anchor": ("锚题", "anchor"),
        "author.cal.badge.carried": ("沿用旧参数", "kept from before"),
        "author.cal.badge.carried_title": (
            "本次作答不足 {min} 人，a、b 沿用上一次校准（同一量尺）",
            "fewer than {min} usable responses here: a and b kept from the calibration "
            "before (the same scale)",
        ),
        "author.cal.badge.misfit": ("不拟合", "misfit"),
        "author.cal.badge.drift": ("漂移 Δb = {db}", "drift Δb = {db}"),
        "author.cal.badge.not_converged": ("未收敛", "not converged"),
        "author.cal.badge.extreme": ("极端", "extreme"),
        "author.cal.badge.extreme_title": (
            "几乎所有人都答对或都答错，参数不稳定",
            "almost everyone right or everyone wrong: the estimate is unstable",
        ),
        "author.cal.drift_evidence": ("b：{before} → {after}", "b: {before} → {after}"),
        "author.cal.drift_evidence_a": ("a：{before} → {after}", "a: {before} → {after}"),
        "author.cal.fit_evidence": (
            "infit {infit}，outfit {outfit}",
            "infit {infit}, outfit {outfit}",
        ),
        # ------------------------------------------------------------------- DIF
        "author.dif.title": ("差异项目功能（DIF）", "Differential item functioning (DIF)"),
        "author.dif.intro": (
            "Mantel–Haenszel 方法：按总分把能力相当的学员分层，比较焦点组与参照组答对每道题的机会。"
            "ETS 分级：A 可忽略，B 轻度到中度，C 明显（|Δ| ≥ 1.5 且显著），C 级试题应由专家审查。",
            "The Mantel–Haenszel method: learners of like total score are compared, stratum "
            "by stratum, on each item's odds of a right answer in the focal and the "
            "reference group. ETS classes: A negligible, B slight to moderate, C large "
            "(|Δ| ≥ 1.5 and significant); C items need an expert's review.",
        ),
        "author.dif.group": ("分组依据", "Group by"),
        "author.dif.group.gender": ("性别", "Gender"),
        "author.dif.group.employer": ("工作单位", "Employer"),
        "author.dif.group.district": ("地区", "District"),
        "author.dif.focal": ("焦点组", "Focal group"),
        "author.dif.reference": ("参照组（可选）", "Reference group (optional)"),
        "author.dif.values_hint": (
            "性别填 female 或 male；工作单位、地区填名称。参照组留空时为其他所有学员。",
            "Gender is female or male; employers and districts by name. An empty "
            "reference group means every other learner.",
        ),
        "author.dif.run": ("分析", "Analyse"),
        "author.dif.groups_found": (
            "按{group}分组，人数达到 {min} 的组：",
            "Groups by {group} with at least {min} learners: ",
        ),
        "author.dif.group_n.one": ("（{n} 人）", " ({n} learner)"),
        "author.dif.group_n.other": ("（{n} 人）", " ({n} learners)"),
        "author.dif.groups_none": (
            "按{group}分组，没有人数达到 {min} 的组：任何比较都会显示“人数不足，无法判断”。",
            "No group by {group} has {min} learners: every comparison shows “too few to judge”.",
        ),
        "author.dif.results": ("分析结果", "Results"),
        "author.dif.reference_group": ("参照组", "Reference group"),
        "author.dif.everyone_else": ("其他所有学员", "everyone else"),
        "author.dif.summary": (
            "C 级 {c} 道，B 级 {b} 道，A 级 {a} 道，人数不足无法判断 {none} 道。",
            "{c} in class C, {b} in class B, {a} in class A, {none} with too few learners "
            "to judge.",
        ),
        "author.dif.focal_n": ("焦点组人数", "Focal learners"),
        "author.dif.reference_n": ("参照组人数", "Reference learners"),
        "author.dif.alpha": ("α_MH", "α_MH"),
        "author.dif.delta": ("Δ_MH", "Δ_MH"),
        "author.dif.chi2": ("χ²", "χ²"),
        "author.dif.p": ("p 值", "p"),
        "author.dif.ets": ("ETS 等级", "ETS class"),
        "author.dif.ets.A": ("A（可忽略）", "A (negligible)"),
        "author.dif.ets.B": ("B（轻度到中度）", "B (slight to moderate)"),
        "author.dif.ets.C": ("C（明显，需审查）", "C (large: review)"),
        "author.dif.too_few": ("人数不足，无法判断", "too few to judge"),
        "author.dif.gender.female": ("女", "female"),
        "author.dif.gender.male": ("男", "male"),
        # ---------------------------------------------------------- information
        "author.info.title": ("测验信息：{exam}", "Test information: {exam}"),
        "author.info.link": ("测验信息", "Test information"),
        "author.info.intro": (
            "测验信息量越高，试卷在该能力处的测量越精确。曲线为该考试按当前设置生成的 {papers}"
            "的平均值，阴影为各试卷之间的差异（第 5 至第 95 百分位）；竖线为合格点 θc。"
            "各试卷在 θc 处的信息量越接近，同一能力的学员无论抽到哪份试卷，合格与否越一致。",
            "The higher the test information, the more precisely a paper measures at that "
            "ability. The line is the mean of {papers} built as the exam is set, the band "
            "the spread across them (5th to 95th percentile); the vertical line is the pass "
            "point θc. The closer the papers are at θc, the more a learner's pass or fail "
            "is the same whichever paper they draw.",
        ),
        "author.info.version": ("考试版本", "Exam version"),
        "author.info.standard": ("合格标准", "Pass standard"),
        "author.info.standard.raw": (
            "原始分：每份试卷 {percent}% 的分数",
            "Raw: {percent}% of each paper's points",
        ),
        "author.info.standard.equated": (
            "等值：每份试卷的合格分由 θc 处的期望得分确定",
            "Equated: each paper's pass mark is its expected score at θc",
        ),
        "author.info.no_cut": (
            "该考试未使用校准，没有合格点 θc：在考试设置中选用题库的一次校准后，这里会标出 θc "
            "和各试卷在该点的信息量。",
            "This exam uses no calibration, so it has no pass point θc: once its spec names "
            "one of the bank's calibrations, θc and the papers' information there show here.",
        ),
        "author.info.theta_cut": ("合格点 θc", "Pass point θc"),
        "author.info.theta_cut_value": ("{theta} logit", "{theta} logits"),
        "author.info.calibration": ("使用的校准", "Calibration used"),
        "author.info.calibration_value": ("第 {n} 次校准", "calibration {n}"),
        "author.info.uncalibrated": (
            "未使用校准（按编写难度组卷）",
            "none (papers built on authored difficulty)",
        ),
        "author.info.at_cut": ("θc 处的信息量", "Information at θc"),
        "author.info.at_cut_value": (
            "平均 {mean}，第 5–95 百分位 {low}–{high}",
            "mean {mean}, 5th–95th percentile {low}–{high}",
        ),
        "js.cal.calibrating": (
            "正在校准，题目较多时可能需要几十秒…",
            "Calibrating: a large bank may take a few tens of seconds…",
        ),
        "js.cal.done": ("已完成第 {n} 次校准，正在打开…", "Calibration {n} done: opening it…"),
    }
)


def link_text(method: str, previous: int | None, anchors: int, lang: str) -> str:
    """How a calibration was put on the bank's scale, in words."""
    if method == "none" or previous is None:
        return i18n.t("author.cal.link.none", lang)
    return i18n.t(f"author.cal.link.{method}", lang, previous=previous, anchors=anchors)


def link_constants(link: Any, lang: str) -> str:
    """θ_previous = A·θ + B in words, B with its sign: "θ(old) = 1.309 × θ(new) − 1.026"."""
    shift = f"{'+' if link.B >= 0 else '−'} {abs(link.B):.3f}"
    return i18n.t("author.cal.link_constants", lang, A=f"{link.A:.3f}", B=shift)


def counts(items: Iterable[Any]) -> dict[str, int]:
    """Items, and the provisional, misfitting and drifting ones, of a calibration (the
    list's columns)."""
    found = {"items": 0, "provisional": 0, "carried": 0, "misfit": 0, "drift": 0}
    for item in items:
        found["items"] += 1
        found["provisional"] += bool(item.provisional)
        found["carried"] += "carried" in item.flags
        found["misfit"] += "misfit" in item.flags
        found["drift"] += "drift" in item.flags
    return found


def signed(value: float | None) -> str:
    """A difference with its sign: "+0.62", "−0.40"."""
    if value is None:
        return "—"
    return ("+" if value >= 0 else "") + number(value)


def with_se(value: float, se: float | None) -> str:
    return number(value) + (f" ({number(se)})" if se is not None else "")


def fit_off(value: float | None) -> bool:
    return value is not None and not FIT_RANGE[0] <= value <= FIT_RANGE[1]


def badges(item: Any, lang: str, min_responses: int) -> list[dict[str, str]]:
    """The marks of one calibrated item: text, kind (the badge's colour) and the evidence
    (a sentence the row shows beside it)."""
    out: list[dict[str, str]] = []
    if item.provisional:
        out.append(
            {
                "code": "provisional",
                "text": i18n.t("author.cal.badge.provisional", lang),
                "kind": "info",
                "evidence": i18n.t("author.cal.badge.provisional_title", lang, min=min_responses),
            }
        )
    if "carried" in item.flags:
        out.append(
            {
                "code": "carried",
                "text": i18n.t("author.cal.badge.carried", lang),
                "kind": "info",
                "evidence": i18n.t("author.cal.badge.carried_title", lang, min=min_responses),
            }
        )
    if item.anchor:
        out.append(
            {
                "code": "anchor",
                "text": i18n.t("author.cal.badge.anchor", lang),
                "kind": "ok",
                "evidence": "",
            }
        )
    if "misfit" in item.flags:
        out.append(
            {
                "code": "misfit",
                "text": i18n.t("author.cal.badge.misfit", lang),
                "kind": "error",
                "evidence": i18n.t(
                    "author.cal.fit_evidence",
                    lang,
                    infit=_fit(item.infit),
                    outfit=_fit(item.outfit),
                ),
            }
        )
    if "drift" in item.flags:
        db = signed(item.drift_b)
        parts = []
        if item.drift_b is not None:
            before = number(item.b - item.drift_b)
            parts.append(
                i18n.t("author.cal.drift_evidence", lang, before=before, after=number(item.b))
            )
        if item.drift_a is not None and abs(item.drift_a) >= 0.005:
            before = number(item.a - item.drift_a)
            parts.append(
                i18n.t("author.cal.drift_evidence_a", lang, before=before, after=number(item.a))
            )
        evidence = i18n.t("author.punct.semicolon", lang).join(parts)
        out.append(
            {
                "code": "drift",
                "text": i18n.t("author.cal.badge.drift", lang, db=db),
                "kind": "warn",
                "evidence": evidence,
            }
        )
    for flag in ("not_converged", "extreme"):
        if flag in item.flags:
            out.append(
                {
                    "code": flag,
                    "text": i18n.t(f"author.cal.badge.{flag}", lang),
                    "kind": "warn",
                    "evidence": i18n.t("author.cal.badge.extreme_title", lang)
                    if flag == "extreme"
                    else "",
                }
            )
    return out


def marks(record: Any | None, lang: str) -> dict[str, list[dict[str, str]]]:
    """Per item key, the marks item analysis repeats from ``record`` (the bank's latest
    calibration): provisional, kept from before, misfit, drift."""
    if record is None:
        return {}
    wanted = ("provisional", "carried", "misfit", "drift")
    return {
        item.key: [m for m in badges(item, lang, record.min_responses) if m["code"] in wanted]
        for item in record.items
    }


def _fit(value: float | None) -> str:
    return number(value) if value is not None else "—"


def item_rows(
    items: Sequence[Any], stems: Mapping[str, str], lang: str, min_responses: int
) -> list[dict[str, Any]]:
    """One row per calibrated item: the stem excerpt (the key when the item is gone),
    the numbers as text, the badges and the item's curve."""
    rows = []
    for n, item in enumerate(items):
        rows.append(
            {
                "key": item.key,
                "stem": stems.get(item.key) or "",
                "a": with_se(item.a, item.se_a),
                "b": with_se(item.b, item.se_b),
                "responses": item.responses,
                "p_value": number(item.p_value) if item.p_value is not None else "—",
                "infit": _fit(item.infit),
                "outfit": _fit(item.outfit),
                "infit_off": fit_off(item.infit),
                "outfit_off": fit_off(item.outfit),
                "provisional": bool(item.provisional),
                "flagged": bool({"misfit", "drift"} & set(item.flags)),
                "badges": badges(item, lang, min_responses),
                "curve": icc(item.key, item.a, item.b, lang, chart_id=f"icc-{n}"),
            }
        )
    return rows


def icc(key: str, a: float, b: float, lang: str, *, chart_id: str) -> Markup:
    return icc_chart([Curve(label=key, a=a, b=b)], lang, chart_id=chart_id)


def notes(record: Any, lang: str) -> list[str]:
    """What a reader must know about a calibration, in the page's language."""
    items = list(record.items)
    found = counts(items)
    out = []
    if items and found["provisional"] == len(items):
        out.append(i18n.t("author.cal.note.all_few", lang))
    elif found["provisional"]:
        out.append(
            i18n.tn("author.cal.note.few", found["provisional"], lang, min=record.min_responses)
        )
    if found["carried"]:
        out.append(i18n.tn("author.cal.note.carried", found["carried"], lang))
    if not record.converged:
        out.append(i18n.t("author.cal.note.not_converged", lang))
    if record.link.method == "none" and record.number > 1:
        out.append(i18n.t("author.cal.note.not_linked", lang))
    if simulated(record.notes):
        out.append(i18n.t("author.cal.note.simulated", lang))
    if found["misfit"]:
        out.append(
            i18n.tn(
                "author.cal.note.misfit",
                found["misfit"],
                lang,
                lo=number(FIT_RANGE[0], 1),
                hi=number(FIT_RANGE[1], 1),
            )
        )
    if found["drift"]:
        out.append(i18n.tn("author.cal.note.drift", found["drift"], lang))
    return out


def simulated(fitter_notes: Iterable[str]) -> bool:
    """Whether a calibration was fitted to simulated learners (the demo's)."""
    return any(note.startswith(SIMULATED_NOTE) for note in fitter_notes)


def group_value(group: str, value: str, lang: str) -> str:
    """A group's value for people: genders in the page's language, names as they are."""
    if group == "gender" and value in ("female", "male"):
        return i18n.t(f"author.dif.gender.{value}", lang)
    return value


def dif_rows(results: Sequence[Any], stems: Mapping[str, str]) -> list[dict[str, Any]]:
    """DIF results, class C first, then B, A and the items too few learners had."""
    order = {"C": 0, "B": 1, "A": 2, None: 3}
    rows = [
        {
            "key": r.key,
            "stem": stems.get(r.key) or "",
            "focal": r.focal,
            "reference": r.reference,
            "alpha": number(r.alpha_mh) if r.alpha_mh is not None else "—",
            "delta": signed(r.delta_mh) if r.delta_mh is not None else "—",
            "chi2": number(r.chi2) if r.chi2 is not None else "—",
            "p": _p(r.p_value),
            "ets": r.ets,
        }
        for r in results
    ]
    return sorted(rows, key=lambda row: order.get(row["ets"], 3))


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else number(value, 3)


def dif_summary(results: Sequence[Any]) -> dict[str, int]:
    out = {"a": 0, "b": 0, "c": 0, "none": 0}
    for r in results:
        out[(r.ets or "none").lower()] += 1
    return out
