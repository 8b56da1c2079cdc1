"""The course team's pages: banks (upload, lint report, import, versions, publish), the
item browser with a learner's-eye preview, the item editor, the exam spec builder with
the live feasibility check, the sample paper and the item analysis.

Pages are server-rendered from the same use cases the JSON API calls
(``api.services.banks`` and ``api.services.exams``); what changes data (lint, import,
publish, save an item, save or publish a spec) is done by the page's script through the
JSON API, so the rules and the wording of refusals live in one place. Page data for a
script travels in a ``<script type="application/json">`` block (the pages' CSP forbids
inline scripts).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.response import Template
from litestar.types import ExceptionHandlersMap
from sqlmodel import Session

from api.http.authoring import CalibrationNumber
from api.http.errors import EXCEPTION_HANDLERS
from api.http.params import (
    AttemptNumber,
    BankName,
    ExamKey,
    Filter,
    ItemKey,
    LatestVersion,
    LearnerRef,
    Offset,
    Version,
)
from api.services import banks, exams, markup
from api.services import calibration as calibrations
from api.settings import Settings
from api.store.db import Uow
from api.web import calibration as cal_view
from api.web import i18n
from api.web.charts import information_chart, number
from api.web.common import PAGE_EXCEPTION_HANDLERS, lang_of, page_principal, render
from examengine.errors import EngineError
from itembank import formats
from itembank.errors import BankNotFoundError, ItembankError
from itembank.model import (
    FillBlank,
    Item,
    ItemKind,
    Matching,
    MultipleChoice,
    Numerical,
    SingleChoice,
    TrueFalse,
    difficulty_band,
    option_id,
)
from itembank.versioning import diff

#: Who may use these pages (the same roles as the authoring API).
ROLES = ("author", "operator")
#: Items per page of the item browser.
PAGE_SIZE = 50
#: Papers sampled for an exam's test information band.
INFORMATION_PAPERS = 200
#: Kinds the item editor builds a body for; other kinds keep the body they have.
EDITABLE_KINDS = ("single", "multiple", "true_false", "fill_blank")

i18n.register(
    {
        # ------------------------------------------------------------ navigation
        "author.nav.home": ("题库与考试", "Banks and exams"),
        "author.nav.upload": ("上传题库", "Upload a bank"),
        "author.nav.new_exam": ("新建考试", "New exam"),
        # ------------------------------------------------------------------ home
        "author.home.title": ("题库与考试", "Banks and exams"),
        "author.home.banks": ("题库", "Item banks"),
        "author.home.no_banks": (
            "还没有题库。请先上传一个题库文件。",
            "No banks yet: upload a bank file first.",
        ),
        "author.home.exams": ("考试", "Exams"),
        "author.home.no_exams": ("还没有考试。", "No exams yet."),
        "author.bank": ("题库", "Bank"),
        "author.version": ("版本", "Version"),
        "author.version_n": ("第 {n} 版", "version {n}"),
        "author.state": ("状态", "State"),
        "author.state.draft": ("草稿", "draft"),
        "author.state.published": ("已发布", "published"),
        "author.items_count": ("试题数", "Items"),
        "author.source": ("来源", "Source"),
        "author.created": ("创建时间", "Created"),
        "author.published_at": ("发布时间", "Published"),
        "author.times_in": ("时间均为{zone}。", "Times are {zone}."),
        "author.actions": ("操作", "Actions"),
        "author.exam": ("考试", "Exam"),
        "author.exam_title": ("名称", "Title"),
        "author.paper_length": ("每卷题数", "Items per paper"),
        "author.open": ("打开", "Open"),
        "author.edit": ("编辑", "Edit"),
        "author.sample": ("样卷预览", "Sample paper"),
        "author.browse": ("浏览试题", "Browse items"),
        "author.stats": ("试题分析", "Item analysis"),
        "author.publish": ("发布", "Publish"),
        # ---------------------------------------------------------------- upload
        "author.upload.title": ("上传题库文件", "Upload a bank file"),
        "author.upload.intro": (
            "先检查文件：所有问题连同行号列出。没有错误时才能导入；导入要么全部成功，要么不导入任何试题。",
            "Check the file first: every problem is listed with its line. A file imports "
            "only when it has no errors, and then entirely, or not at all.",
        ),
        "author.upload.bank": ("题库名称", "Bank name"),
        "author.upload.bank_hint": (
            "导入到这个题库（不存在时自动创建），作为新的草稿版本。",
            "Imported into this bank (created when new) as a new draft version.",
        ),
        "author.upload.file": ("题库文件", "Bank file"),
        "author.upload.file_hint": (
            "支持 YAML（本系统格式）、GIFT、Aiken、Moodle XML、QTI（zip）、Excel、CSV。",
            "YAML (this system's format), GIFT, Aiken, Moodle XML, QTI (zip), Excel, CSV.",
        ),
        "author.upload.format": ("文件格式", "Format"),
        "author.upload.format_auto": ("根据文件名自动判断", "Tell from the file name"),
        "author.upload.lint": ("检查文件", "Check the file"),
        "author.upload.import": ("导入", "Import"),
        "author.upload.report": ("检查报告", "Lint report"),
        "author.where": ("位置", "Where"),
        "author.severity": ("级别", "Severity"),
        "author.code": ("代码", "Code"),
        "author.message": ("说明", "Message"),
        "author.item_key": ("试题", "Item"),
        "js.author.severity.error": ("错误", "error"),
        "js.author.severity.warning": ("警告", "warning"),
        "js.author.linting": ("正在检查…", "Checking…"),
        "js.author.importing": ("正在导入…", "Importing…"),
        "js.author.lint_summary": (
            "{source}（{format}）：{questions}，{broken}；{errors}，{warnings}。",
            "{source} ({format}): {questions}, {broken}; {errors}, {warnings}.",
        ),
        "js.author.n_questions.other": ("{n} 道试题", "{n} questions"),
        "js.author.n_questions.one": ("{n} 道试题", "{n} question"),
        "js.author.n_broken": ("{n} 道有错误", "{n} with errors"),
        "js.author.none_broken": ("均无错误", "none with errors"),
        "js.author.n_errors.other": ("{n} 个错误", "{n} errors"),
        "js.author.n_errors.one": ("{n} 个错误", "{n} error"),
        "js.author.n_warnings.other": ("{n} 个警告", "{n} warnings"),
        "js.author.n_warnings.one": ("{n} 个警告", "{n} warning"),
        "js.author.n_items.other": ("{n} 道试题", "{n} items"),
        "js.author.n_items.one": ("{n} 道试题", "{n} item"),
        # Formats by name for people (the keys are the API's).
        "js.author.format.native": ("本系统 YAML/JSON", "This system's YAML/JSON"),
        "js.author.format.gift": ("GIFT", "GIFT"),
        "js.author.format.aiken": ("Aiken", "Aiken"),
        "js.author.format.moodle": ("Moodle XML", "Moodle XML"),
        "js.author.format.qti": ("IMS QTI（zip）", "IMS QTI (zip)"),
        "js.author.format.excel": ("Excel（.xlsx）", "Excel (.xlsx)"),
        "js.author.format.csv": ("CSV", "CSV"),
        "author.upload.no_problems": (
            "没有发现问题。",
            "No problems found.",
        ),
        "js.author.lint_clean": ("没有发现问题，可以导入。", "No problems: ready to import."),
        "js.author.lint_blocked": (
            "请先修改文件中的错误，再重新检查。",
            "Fix the errors in the file, then check it again.",
        ),
        "js.author.imported": (
            "已导入为题库“{bank}”第 {version} 版（{state}，{items}）。",
            "Imported as version {version} of bank “{bank}” ({state}, {items}).",
        ),
        "js.author.unchanged": (
            "内容与最新版本相同，未创建新版本（第 {version} 版）。",
            "Same content as the latest version: no new version (version {version}).",
        ),
        "js.author.open_bank": ("查看该题库", "Open the bank"),
        "js.author.need_file": ("请选择一个文件。", "Choose a file."),
        "js.author.need_bank": ("请填写题库名称。", "Enter the bank name."),
        "js.author.publishing": ("正在发布…", "Publishing…"),
        "js.author.published": ("第 {version} 版已发布。", "Version {version} is published."),
        "js.author.confirm_publish": (
            "发布后该版本不能再修改，确定发布第 {version} 版吗？",
            "A published version never changes again. Publish version {version}?",
        ),
        # ------------------------------------------------------------------ bank
        "author.bank.title": ("题库：{bank}", "Bank: {bank}"),
        "author.bank.versions": ("版本", "Versions"),
        "author.bank.export": ("导出", "Export"),
        "author.bank.export_hint": (
            "导出最新版本为以下格式：",
            "Export the latest version as:",
        ),
        "author.bank.export_check": (
            "下载前先检查该格式能否完整保存每道试题；会丢失内容时先列出，由您决定是否下载。",
            "Before a download the format is checked: if it cannot carry every item whole, "
            "what would be lost is listed first and you decide.",
        ),
        "author.bank.export_anyway": ("仍然下载", "Download anyway"),
        "author.bank.export_cancel": ("不下载", "Don't download"),
        "js.author.export_checking": (
            "正在检查 {format} 能否完整保存这些试题…",
            "Checking what {format} can carry…",
        ),
        "js.author.export_clean": (
            "{format} 能完整保存全部试题，开始下载。",
            "{format} carries every item whole: downloading.",
        ),
        "js.author.export_losses.one": (
            "导出为 {format} 时，{n} 道试题会丢失部分内容：",
            "As {format}, {n} item loses something:",
        ),
        "js.author.export_losses.other": (
            "导出为 {format} 时，{n} 道试题会丢失部分内容：",
            "As {format}, {n} items lose something:",
        ),
        "author.bank.upload_new": ("上传新版本", "Upload a new version"),
        "author.bank.new_item": ("新建试题", "New item"),
        "author.bank.source_format": ("（{format}）", "({format})"),
        "author.bank.source_edit": ("在线编辑：", "edited online:"),
        "author.bank.diff": ("比较版本", "Compare versions"),
        "author.bank.diff_prev": ("与上一版比较", "Compare with the one before"),
        "author.bank.diff_prev_label": (
            "第 {n} 版与上一版比较",
            "Compare version {n} with the one before",
        ),
        # ------------------------------------------------------------------ diff
        "author.diff.title": ("版本比较：{bank}", "Compare versions: {bank}"),
        "author.diff.intro": (
            "选择两个版本，查看新版本相对旧版本新增、删除和修改的试题；修改的试题逐项并列显示修改前后的内容。",
            "Pick two versions to see the items the newer one adds, removes and changes; "
            "each changed field is shown before and after, side by side.",
        ),
        "author.diff.old": ("旧版本", "Older version"),
        "author.diff.new": ("新版本", "Newer version"),
        "author.diff.show": ("比较", "Compare"),
        "author.diff.summary": (
            "第 {old} 版 → 第 {new} 版：新增 {added}，删除 {removed}，修改 {changed}。",
            "Version {old} → version {new}: {added} added, {removed} removed, {changed} changed.",
        ),
        "author.diff.same": (
            "两个版本的试题完全相同。",
            "The two versions hold the same items.",
        ),
        "author.diff.same_version": (
            "请选择两个不同的版本。",
            "Pick two different versions.",
        ),
        "author.diff.only_one": (
            "该题库只有一个版本，没有可比较的内容。",
            "This bank has one version only: there is nothing to compare.",
        ),
        "author.diff.added": ("新增的试题", "Items added"),
        "author.diff.removed": ("删除的试题", "Items removed"),
        "author.diff.changed": ("修改的试题", "Items changed"),
        "author.diff.before": ("修改前", "Before"),
        "author.diff.after": ("修改后", "After"),
        "author.diff.fields": ("修改了：{fields}", "Changed: {fields}"),
        "author.diff.empty": ("（空）", "(empty)"),
        "author.diff.correct": ("（正确）", "(correct)"),
        "author.diff.field.stem": ("题干", "Stem"),
        "author.diff.field.body": ("选项与答案", "Options and answers"),
        "author.diff.field.explanation": ("解析", "Explanation"),
        "author.diff.field.topic": ("知识点", "Topic"),
        "author.diff.field.difficulty": ("难度", "Difficulty"),
        "author.diff.field.tags": ("标签", "Tags"),
        "author.diff.field.enemy_group": ("互斥组", "Enemy group"),
        "author.diff.field.points": ("分值", "Points"),
        "author.diff.field.status": ("状态", "Status"),
        "author.diff.kind": ("题型：{kind}", "Kind: {kind}"),
        "author.diff.band": ("难度等级 {band}", "band {band}"),
        "author.diff.facility": ("通过率 {p}", "facility {p}"),
        "author.diff.irt": ("IRT a={a} b={b}", "IRT a={a} b={b}"),
        # ----------------------------------------------------------------- items
        "author.items.title": ("试题：{bank}", "Items: {bank}"),
        "author.items.search": ("搜索试题", "Search items"),
        "author.items.q": ("题干包含", "Stem contains"),
        "author.items.topic": ("知识点", "Topic"),
        "author.items.kind": ("题型", "Kind"),
        "author.items.any": ("全部", "Any"),
        "author.items.version": ("版本", "Version"),
        "author.items.latest": ("最新版本", "Latest"),
        "author.items.submit": ("搜索", "Search"),
        "author.items.found.one": (
            "第 {version} 版中找到 {n} 道试题。",
            "{n} item in version {version}.",
        ),
        "author.items.found.other": (
            "第 {version} 版中找到 {n} 道试题。",
            "{n} items in version {version}.",
        ),
        "author.items.none": ("没有符合条件的试题。", "No items match."),
        "author.items.key": ("编号", "Key"),
        "author.items.stem": ("题干", "Stem"),
        "author.items.band": ("难度", "Difficulty"),
        "author.items.status": ("状态", "Status"),
        "author.items.prev": ("上一页", "Previous page"),
        "author.items.next": ("下一页", "Next page"),
        "author.items.pages": ("分页", "Pages"),
        "author.status.draft": ("草稿", "draft"),
        "author.status.active": ("启用", "active"),
        "author.status.retired": ("停用", "retired"),
        # --------------------------------------------------------------- preview
        "author.preview.title": ("试题预览：{key}", "Item preview: {key}"),
        "author.preview.learner": ("学员看到的样子", "As the learner sees it"),
        "author.preview.key": ("答案与属性（仅出题人可见）", "Key and attributes (authors only)"),
        "author.preview.correct": ("正确答案", "Correct answer"),
        "author.preview.fraction": ("得分比例", "Share of points"),
        "author.preview.accepted": ("可接受的答案", "Accepted answers"),
        "author.preview.tolerance": ("允许误差 ±{t}", "tolerance ±{t}"),
        "author.preview.pairs": ("配对", "Pairs"),
        "author.preview.distractors": ("干扰项", "Distractors"),
        "author.preview.explanation": ("解析", "Explanation"),
        "author.preview.points": ("分值", "Points"),
        "author.preview.enemy": ("互斥组", "Enemy group"),
        "author.preview.tags": ("标签", "Tags"),
        "author.preview.facility": ("通过率", "Facility"),
        "author.preview.band": (
            "难度等级 {band}（1 最易，5 最难）",
            "Band {band} (1 easiest, 5 hardest)",
        ),
        "author.preview.none": ("无", "none"),
        "author.preview.meta": ("（{kind}，{points}）", "({kind}, {points})"),
        "author.preview.n_points.one": ("{p} 分", "{p} point"),
        "author.preview.n_points.other": ("{p} 分", "{p} points"),
        "author.preview.share": ("（得分比例 {share}%）", "({share}% of the points)"),
        # Punctuation between UI words follows the page's language.
        "author.punct.colon": ("：", ": "),
        "author.punct.comma": ("，", ", "),
        "author.punct.semicolon": ("；", "; "),
        "author.preview.answer_here": ("作答区", "Answer"),
        "author.preview.match_choose": ("请选择", "Choose"),
        # ------------------------------------------------------------------ edit
        "author.edit.title": ("编辑试题：{key}", "Edit item: {key}"),
        "author.edit.new_title": ("新建试题", "New item"),
        "author.edit.intro": (
            "保存时先检查试题。最新版本已发布时，保存会生成一个新的草稿版本；草稿版本则直接修改。",
            "Saving checks the item first. When the latest version is published the edit "
            "makes a new draft version; a draft is changed in place.",
        ),
        "author.edit.key": ("试题编号", "Item key"),
        "author.edit.kind": ("题型", "Kind"),
        "author.edit.stem": ("题干", "Stem"),
        "author.edit.options": ("选项", "Options"),
        "author.edit.option_text": ("选项 {letter} 内容", "Option {letter} text"),
        "author.edit.option_correct": ("选项 {letter} 正确", "Option {letter} is correct"),
        "author.edit.add_option": ("添加选项", "Add an option"),
        "author.edit.remove_option": ("删除选项 {letter}", "Remove option {letter}"),
        "author.edit.answer": ("正确答案", "Correct answer"),
        "author.edit.accepted": ("可接受的答案（每行一个）", "Accepted answers (one per line)"),
        "author.edit.body_kept": (
            "此题型的答案请在题库文件中修改；此处保存时保留原有答案。",
            "Edit this kind's answers in the bank file; saving here keeps them as they are.",
        ),
        "author.edit.explanation": ("解析", "Explanation"),
        "author.edit.topic": ("知识点", "Topic"),
        "author.edit.band": ("难度等级", "Difficulty band"),
        "author.edit.band_none": ("未设定", "Not set"),
        "author.edit.facility": ("通过率（0–1，可选）", "Facility (0–1, optional)"),
        "author.edit.enemy": ("互斥组（可选）", "Enemy group (optional)"),
        "author.edit.enemy_hint": (
            "同一互斥组的试题不会出现在同一份试卷中。",
            "Items of one enemy group never share a paper.",
        ),
        "author.edit.points": ("分值", "Points"),
        "author.edit.status": ("状态", "Status"),
        "author.edit.save": ("保存", "Save"),
        "author.edit.cancel": ("返回", "Back"),
        "js.author.saving": ("正在保存…", "Saving…"),
        "js.author.saved": (
            "已保存到第 {version} 版（{state}）。",
            "Saved in version {version} ({state}).",
        ),
        "js.author.item_problems": (
            "试题有错误，未保存：",
            "The item has errors and was not saved:",
        ),
        "js.author.option_text": ("选项 {letter} 内容", "Option {letter} text"),
        "js.author.option_correct": ("选项 {letter} 正确", "Option {letter} is correct"),
        "js.author.remove_option": ("删除选项 {letter}", "Remove option {letter}"),
        "js.author.need_key": ("请填写试题编号。", "Enter the item key."),
        "js.author.correct": ("正确", "Correct"),
        "js.author.state.draft": ("草稿", "draft"),
        "js.author.state.published": ("已发布", "published"),
        # ------------------------------------------------------------ exam spec
        "author.spec.title": ("考试设置：{exam}", "Exam spec: {exam}"),
        "author.spec.new_title": ("新建考试", "New exam"),
        "author.spec.intro": (
            "修改任何设置后，系统会立即用所选题库版本检查能否组卷，问题列在右侧（手机上在下方）。",
            "Each change is checked at once against the chosen bank version; problems are "
            "listed beside the form (below it on a phone).",
        ),
        "author.spec.basics": ("基本信息", "Basics"),
        "author.spec.key": ("考试编号", "Exam key"),
        "author.spec.exam_title": ("考试名称", "Title"),
        "author.spec.bank": ("题库", "Bank"),
        "author.spec.bank_version": ("题库版本", "Bank version"),
        "author.spec.rules": ("考试规则", "Rules"),
        "author.spec.duration": ("考试时长（分钟）", "Duration (minutes)"),
        "author.spec.attempts": ("考试次数", "Attempts"),
        "author.spec.pass_mark": ("合格线（%）", "Pass mark (%)"),
        "author.spec.r_max": ("单题最高曝光率（%）", "Most exposure of one item (%)"),
        "author.spec.r_max_hint": (
            "任一试题最多出现在这个比例的试卷中；越低，每个知识点需要的试题越多。",
            "No item appears on more than this share of papers; the lower, the more items "
            "each topic needs.",
        ),
        "author.spec.expiry": ("超时未交卷", "Not submitted in time"),
        "author.spec.expiry.expire_fail": (
            "无成绩，按不合格记录",
            "No score, recorded as failed",
        ),
        "author.spec.expiry.auto_submit": ("自动交卷并评分", "Submitted and graded"),
        "author.spec.expiry.grace": ("宽限后自动交卷", "Graded after a grace period"),
        "author.spec.sections": ("大题", "Sections"),
        "author.spec.section_n": ("第 {n} 大题", "Section {n}"),
        "author.spec.section_title": ("标题", "Title"),
        "author.spec.kind": ("题型", "Kind"),
        "author.spec.any_kind": ("任意题型", "Any kind"),
        "author.spec.count": ("题数", "Items"),
        "author.spec.points": ("每题分值", "Points per item"),
        "author.spec.points_hint": ("留空则使用试题自身分值", "Empty: each item's own points"),
        "author.spec.topics": ("知识点（不选则全部）", "Topics (none chosen: all)"),
        "author.spec.add_section": ("添加大题", "Add a section"),
        "author.spec.first_section": ("一、单项选择题", "Part 1: single choice"),
        "author.spec.problems": ("检查结果", "Check"),
        "author.spec.save": ("保存草稿", "Save the draft"),
        "author.spec.publish": ("发布", "Publish"),
        "author.spec.versions": ("版本", "Versions"),
        "js.spec.checking": ("正在检查…", "Checking…"),
        "js.spec.version_option": (
            "第 {version} 版 · {state} · {items}",
            "version {version} · {state} · {items}",
        ),
        "js.spec.where": ("{where}：", "{where}: "),
        "js.spec.ok": (
            "可以组卷：每份试卷 {items}，共 {points}。",
            "Papers can be built: {items} and {points} per paper.",
        ),
        "js.spec.ok_own_points": (
            "可以组卷：每份试卷 {items}。",
            "Papers can be built: {items} per paper.",
        ),
        "js.spec.n_items.other": ("{n} 道题", "{n} items"),
        "js.spec.n_items.one": ("{n} 道题", "{n} item"),
        "js.spec.n_points.other": ("{n} 分", "{n} points"),
        "js.spec.n_points.one": ("{n} 分", "{n} point"),
        "js.spec.error": ("错误", "error"),
        "js.spec.warning": ("提示", "warning"),
        "js.spec.saving": ("正在保存…", "Saving…"),
        "js.spec.saved": (
            "已保存为第 {version} 版（{state}）。",
            "Saved as version {version} ({state}).",
        ),
        "js.spec.unchanged": (
            "与第 {version} 版相同，未创建新版本。",
            "Same as version {version}: nothing new was stored.",
        ),
        "js.spec.published": ("第 {version} 版已发布。", "Version {version} is published."),
        "js.spec.not_saved": ("未保存：", "Not saved:"),
        "js.spec.section_n": ("第 {n} 大题", "Section {n}"),
        "js.spec.supply": ("题库中可用 {n} 道", "{n} in the bank"),
        "js.spec.no_topics": ("该题库版本没有知识点。", "This bank version has no topics."),
        "js.spec.confirm_publish": (
            "发布后该版本不能再修改，学员将按此版本组卷。确定发布第 {version} 版吗？",
            "A published version never changes and learners' papers are built from it. "
            "Publish version {version}?",
        ),
        "js.spec.sample": ("预览样卷", "Preview a sample paper"),
        "js.spec.remove_section": ("删除第 {n} 大题", "Remove section {n}"),
        "js.spec.has_errors.other": (
            "有 {n} 个问题，暂不能组卷。",
            "{n} problems: papers cannot be built yet.",
        ),
        "js.spec.has_errors.one": (
            "有 {n} 个问题，暂不能组卷。",
            "{n} problem: papers cannot be built yet.",
        ),
        # ---------------------------------------------------------------- sample
        "author.sample.title": ("样卷预览：{exam}", "Sample paper: {exam}"),
        "author.sample.intro": (
            "按所填的测试学员和考试次数生成试卷，与该学员正式组卷的结果相同；预览不保存。",
            "The paper this test learner would get on this attempt (the same as a real "
            "build); nothing is stored.",
        ),
        "author.sample.learner": ("测试学员编号", "Test learner id"),
        "author.sample.attempt": ("第几次考试", "Attempt number"),
        "author.sample.version": ("考试版本", "Exam version"),
        "author.sample.show": ("生成样卷", "Build the paper"),
        "author.sample.summary": (
            "第 {version} 版，{items}，共 {points}；"
            "平均难度 {difficulty}（logit）；随机种子 {seed}。",
            "Version {version}, {items}, {points}; mean difficulty {difficulty} (logit); "
            "seed {seed}.",
        ),
        "author.sample.repeats.one": (
            "其中 {n} 道题与该学员之前的试卷重复（题库不足）。",
            "{n} item repeats from this learner's earlier papers (the bank is short).",
        ),
        "author.sample.repeats.other": (
            "其中 {n} 道题与该学员之前的试卷重复（题库不足）。",
            "{n} items repeat from this learner's earlier papers (the bank is short).",
        ),
        "author.sample.show_key": ("答案", "Key"),
        "author.sample.question": ("第 {n} 题（{points} 分）", "Question {n} ({points} points)"),
        # ----------------------------------------------------------------- stats
        "author.stats.title": ("试题分析：{bank}", "Item analysis: {bank}"),
        "author.stats.summary": (
            "第 {version} 版：{learners}，{items}。",
            "Version {version}: {learners}, {items}.",
        ),
        "author.stats.n_learners.other": ("{n} 名学员", "{n} learners"),
        "author.stats.n_learners.one": ("{n} 名学员", "{n} learner"),
        "author.stats.n_items.other": ("{n} 道试题", "{n} items"),
        "author.stats.n_items.one": ("{n} 道试题", "{n} item"),
        "author.stats.show": ("查看", "Show"),
        "author.stats.judged_from": (
            "作答人数少于 {n} 的试题不作难度和区分度判断（样本不足）；"
            "未作答的学员单独列出，计入通过率（记 0 分），不计入作答人数。",
            "Items answered by fewer than {n} learners are not judged (too few to tell); "
            "learners who left an item blank are counted apart: they score 0 in its "
            "facility but are not responses.",
        ),
        "author.stats.blanks": ("未作答", "Blank"),
        "author.stats.few.other": (
            "仅 {n} 人作答，样本不足",
            "only {n} responses, too few to judge",
        ),
        "author.stats.none_yet": ("还没有人作答", "no responses yet"),
        "author.stats.few.one": (
            "仅 {n} 人作答，样本不足",
            "only {n} response, too few to judge",
        ),
        "author.stats.mean": ("平均得分率", "Mean score"),
        "author.stats.sd": ("标准差", "Standard deviation"),
        "author.stats.alpha": ("信度（Cronbach α）", "Reliability (Cronbach's α)"),
        "author.stats.kr20": ("KR-20", "KR-20"),
        "author.stats.no_data": (
            "还没有学员作答数据。",
            "No responses from learners yet.",
        ),
        "author.stats.responses": ("作答人数", "Responses"),
        "author.stats.item": ("试题", "Item"),
        "author.stats.facility": ("通过率", "Facility"),
        "author.stats.rpb": ("点双列相关", "Point-biserial"),
        "author.stats.d27": ("区分度（27%）", "Discrimination (27%)"),
        "author.stats.options": ("各选项人数", "Option counts"),
        "author.stats.flags": ("提示", "Flags"),
        "author.stats.table": ("逐题统计", "Statistics per item"),
        "author.stats.charts": ("图表", "Charts"),
        "author.stats.flag.too_easy": ("过易", "too easy"),
        "author.stats.flag.too_hard": ("过难", "too hard"),
        "author.stats.flag.negative_discrimination": ("负区分度", "negative discrimination"),
        "author.stats.flag.low_discrimination": ("区分度低", "low discrimination"),
        "author.stats.flag.unused_distractor": ("干扰项无人选", "unused distractor"),
        "author.stats.flag.few_responses": ("作答人数少", "few responses"),
        "js.charts.histogram": ("通过率分布", "Facility distribution"),
        "js.charts.histogram_desc": (
            "横轴为通过率区间，纵轴为试题数。",
            "Facility bands across, number of items up.",
        ),
        "js.charts.scatter": (
            "通过率 × 区分度（点双列相关）",
            "Facility × discrimination (point-biserial)",
        ),
        "js.charts.scatter_desc": (
            "每个点是一道试题；红色方块为有提示的试题。",
            "Each dot is an item; red squares are flagged items.",
        ),
        "js.charts.items": ("试题数", "Items"),
        "js.charts.facility": ("通过率", "Facility"),
        "js.charts.discrimination": ("区分度（点双列相关）", "Discrimination (point-biserial)"),
        "js.charts.bar_label": ("通过率 {range}：{items}", "Facility {range}: {items}"),
        "js.charts.n_items.one": ("{n} 道", "{n} item"),
        "js.charts.n_items.other": ("{n} 道", "{n} items"),
        "js.charts.point_label": (
            "{key}：通过率 {p}，区分度 {r}",
            "{key}: facility {p}, discrimination {r}",
        ),
        # ------------------------------------------------------------------ errors
        "author.error.title": ("无法显示", "Cannot show this"),
        "author.error.back": ("返回题库与考试", "Back to banks and exams"),
    }
)


# ----------------------------------------------------------------------- view models


def _plain(value: Any) -> Any:
    """JSON-ready builtins (for a page's data block and ``tojson``)."""
    return msgspec.to_builtins(value)


def item_view(item: Item, order: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a page shows of ``item``: the learner's view (choices in ``order``, lettered
    as shown) and the key, in one dict. ``order`` is a paper's order of option ids (or a
    matching item's answers); empty: the bank's order."""
    body = item.body
    view: dict[str, Any] = {
        "key": item.key,
        "kind": item.kind.value,
        "stem": item.stem,
        "points": item.points,
        "explanation": item.explanation,
        "topic": item.topic,
        "band": difficulty_band(item.difficulty),
        "facility": item.difficulty.facility,
        "enemy_group": item.enemy_group,
        "tags": list(item.tags),
        "status": item.status.value,
        "options": [],
        "answer": None,
        "accepted": [],
        "prompts": [],
        "choices": [],
        "pairs": [],
        "distractors": [],
    }
    match body:
        case SingleChoice(options=options) | MultipleChoice(options=options):
            by_id = {o.id: o for o in options}
            ids = [i for i in order if i in by_id] or [o.id for o in options]
            view["options"] = [
                {
                    "letter": option_id(n),
                    "id": by_id[oid].id,
                    "text": by_id[oid].text,
                    "correct": by_id[oid].correct,
                    "fraction": by_id[oid].fraction,
                    "feedback": by_id[oid].feedback,
                }
                for n, oid in enumerate(ids)
            ]
        case TrueFalse(answer=answer):
            view["answer"] = answer
        case FillBlank(answers=answers):
            view["accepted"] = [{"text": a.text, "fraction": a.fraction} for a in answers]
        case Numerical(answers=answers):
            view["accepted"] = [
                {"text": f"{a.value:g}", "tolerance": a.tolerance, "fraction": a.fraction}
                for a in answers
            ]
        case Matching(pairs=pairs, distractors=distractors):
            view["prompts"] = [p.prompt for p in pairs]
            choices = [p.answer for p in pairs] + list(distractors)
            view["choices"] = [c for c in order if c in choices] or choices
            view["pairs"] = [{"prompt": p.prompt, "answer": p.answer} for p in pairs]
            view["distractors"] = list(distractors)
    return view


def _share(fraction: float) -> str:
    return "" if fraction in (0, 1) else f" {fraction * 100:.0f}%"


def _body_lines(item: Item, lang: str) -> list[str]:
    """The item's kind, options and answers as lines of text (the diff's "body")."""
    lines = [i18n.t("author.diff.kind", lang, kind=i18n.t(f"exam.kind.{item.kind.value}", lang))]
    correct = i18n.t("author.diff.correct", lang)
    match item.body:
        case SingleChoice(options=options) | MultipleChoice(options=options):
            for n, o in enumerate(options):
                mark = f" {correct}{_share(o.fraction)}" if o.fraction > 0 else _share(o.fraction)
                lines.append(f"{option_id(n)}. {o.text}{mark}")
        case TrueFalse(answer=answer):
            word = "exam.true" if answer else "exam.false"
            lines.append(i18n.t(word, lang) if answer is not None else "—")
        case FillBlank(answers=answers):
            lines.extend(f"{a.text}{_share(a.fraction)}" for a in answers)
        case Numerical(answers=answers):
            lines.extend(
                f"{a.value:g}" + (f" ±{a.tolerance:g}" if a.tolerance else "") + _share(a.fraction)
                for a in answers
            )
        case Matching(pairs=pairs, distractors=distractors):
            lines.extend(f"{p.prompt} → {p.answer}" for p in pairs)
            lines.extend(f"✗ {d}" for d in distractors)
    return lines


def field_text(item: Item, field: str, lang: str) -> str:
    """One field of ``item`` as text a person reads (the diff's before and after)."""
    empty = i18n.t("author.diff.empty", lang)
    match field:
        case "body":
            return "\n".join(_body_lines(item, lang))
        case "difficulty":
            d = item.difficulty
            parts = []
            if d.band is not None:
                parts.append(i18n.t("author.diff.band", lang, band=d.band))
            if d.facility is not None:
                parts.append(i18n.t("author.diff.facility", lang, p=f"{d.facility:g}"))
            if d.irt_a is not None or d.irt_b is not None:
                parts.append(i18n.t("author.diff.irt", lang, a=d.irt_a, b=d.irt_b))
            return "; ".join(parts) or empty
        case "tags":
            return ", ".join(item.tags) or empty
        case "points":
            return f"{item.points:g}"
        case "status":
            return i18n.t(f"author.status.{item.status.value}", lang)
        case _:
            value = getattr(item, field)
            return str(value) if value else empty


def diff_view(old: list[Item], new: list[Item], lang: str) -> dict[str, Any]:
    """What the newer list adds, removes and changes, with each changed field's text
    before and after (the diff page)."""
    found = diff(old, new)
    before = {i.key: i for i in old}
    after = {i.key: i for i in new}
    return {
        "added": [(k, _short(after[k].stem)) for k in found.added],
        "removed": [(k, _short(before[k].stem)) for k in found.removed],
        "changed": [
            {
                "key": c.key,
                "stem": _short(after[c.key].stem),
                "fields": [
                    {
                        "name": f,
                        "before": field_text(before[c.key], f, lang),
                        "after": field_text(after[c.key], f, lang),
                    }
                    for f in c.fields
                ],
            }
            for c in found.changed
        ],
    }


#: How much of a stem a table shows (the full stem is one click away).
STEM_CHARS = 60


def _short(text: str, limit: int = STEM_CHARS) -> str:
    """An item text as plain words on one line, cut to ``limit`` characters."""
    return markup.excerpt(text, limit)


def _version_rows(db: Session, bank: str) -> list[dict[str, Any]]:
    return [_plain(v) for v in banks.list_versions(db, bank=bank)]


def _topics(items: list[Item]) -> list[dict[str, Any]]:
    """Each topic with its active items per kind (the spec builder's supply)."""
    found: dict[str, dict[str, int]] = {}
    for item in items:
        kinds = found.setdefault(item.topic, {})
        if item.status.value == "active":
            kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
    return [{"topic": topic, "kinds": found[topic]} for topic in sorted(found)]


def _secret(state: State) -> bytes:
    settings: Settings = state.settings
    return settings.security.paper_secret.encode()


NEW_SPEC: dict[str, Any] = {
    "key": "",
    "title": "",
    "bank": "",
    "bank_version": 1,
    "duration_s": 120 * 60,
    "max_attempts": 2,
    "pass_mark": 0.6,
    "expiry": "expire_fail",
    "r_max": 1.0,
    "sections": [{"title": "一、单项选择题", "kind": "single", "count": 10, "points": 5}],
}


# --------------------------------------------------------------------------- errors


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bank, item or exam that does not exist, or a preview that cannot be built: the
    page says why (in the page's language) instead of answering problem+json."""
    code = str(getattr(exc, "code", ""))
    en = str(getattr(exc, "message", "") or exc)
    zh = str(getattr(exc, "message_zh", "") or en)
    status = 404 if code.endswith("not_found") else 409
    message = en if lang_of(request) == "en" else zh
    return render(request, "author/error.html", status_code=status, message=message, code=code)


#: Every domain error the API maps, answered with a page here (the most specific class
#: of a raised exception picks its handler across layers, so each mapped class is listed).
_DOMAIN_CLASSES: list[type[Exception]] = [ItembankError, EngineError, *EXCEPTION_HANDLERS]
_DOMAIN_HANDLERS: ExceptionHandlersMap = {
    cls: _refused for cls in _DOMAIN_CLASSES if issubclass(cls, ItembankError | EngineError)
}


# ---------------------------------------------------------------------------- pages


class AuthorPages(Controller):
    """The course team's pages under ``/author``."""

    path = "/author"
    include_in_schema = False
    exception_handlers = {**PAGE_EXCEPTION_HANDLERS, **_DOMAIN_HANDLERS}

    @get("/", sync_to_thread=True)
    def home(self, request: Request[Any, Any, Any], uow: Uow) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            return render(
                request, "author/home.html", banks=banks.list_banks(db), exams=exams.list_exams(db)
            )

    @get("/upload", sync_to_thread=False)
    def upload(self, request: Request[Any, Any, Any], bank: Filter = "") -> Template:
        page_principal(request, *ROLES)
        return render(request, "author/upload.html", bank=bank, format_names=formats.FORMAT_NAMES)

    @get("/banks/{bank:str}", sync_to_thread=True)
    def bank(self, request: Request[Any, Any, Any], uow: Uow, bank: BankName) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            versions = banks.list_versions(db, bank=bank)
            return render(
                request,
                "author/bank.html",
                bank=bank,
                versions=sorted(versions, key=lambda v: -v.version),
                format_names=formats.FORMAT_NAMES,
            )

    @get("/banks/{bank:str}/diff", sync_to_thread=True)
    def compare(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        old: LatestVersion = None,
        new: LatestVersion = None,
    ) -> Template:
        """Two versions side by side: the newer one's added, removed and changed items
        (by default the latest version against the one before it)."""
        with uow() as db:
            page_principal(request, *ROLES)
            versions = sorted(banks.list_versions(db, bank=bank), key=lambda v: -v.version)
            if not versions:
                raise BankNotFoundError(bank)
            newer = new or versions[0].version
            older = old or next((v.version for v in versions if v.version < newer), newer)
            view = None
            if older != newer:
                view = diff_view(
                    banks.load_items(db, bank=bank, version=older),
                    banks.load_items(db, bank=bank, version=newer),
                    lang_of(request),
                )
            return render(
                request,
                "author/diff.html",
                bank=bank,
                versions=versions,
                old=older,
                new=newer,
                diff=view,
            )

    @get("/banks/{bank:str}/items", sync_to_thread=True)
    def items(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        version: Filter = "",
        q: Filter = "",
        topic: Filter = "",
        kind: Filter = "",
        offset: Offset = 0,
    ) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            offset = max(offset, 0)
            # The version menu's "latest" is an empty value: not a number, not an error.
            wanted = int(version) if version.isdigit() else None
            page = banks.search_items(
                db, bank=bank, version=wanted, text=q, topic=topic, kind=kind,
                offset=offset, limit=PAGE_SIZE,
            )  # fmt: skip
            topics = sorted(
                {i.topic for i in banks.load_items(db, bank=bank, version=page.version)}
            )
            return render(
                request,
                "author/items.html",
                bank=bank,
                page=page,
                rows=[item_view(i) for i in page.items],
                versions=banks.list_versions(db, bank=bank),
                version=wanted,
                q=q,
                topic=topic,
                kind=kind,
                kinds=[k.value for k in ItemKind],
                topics=topics,
                offset=offset,
                page_size=PAGE_SIZE,
            )

    @get("/banks/{bank:str}/items/{key:str}", sync_to_thread=True)
    def item(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        key: ItemKey,
        version: LatestVersion = None,
    ) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            found = banks.get_item(db, bank=bank, key=key, version=version)
            info = banks.version_info(db, bank=bank, version=version)
            return render(request, "author/item.html", bank=bank, item=item_view(found), info=info)

    @get("/banks/{bank:str}/new-item", sync_to_thread=True)
    def new_item(self, request: Request[Any, Any, Any], uow: Uow, bank: BankName) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            info = banks.version_info(db, bank=bank)
            blank = Item(key="", stem="", body=SingleChoice())
            return self._editor(request, db, bank, blank, info, new=True)

    @get("/banks/{bank:str}/items/{key:str}/edit", sync_to_thread=True)
    def edit_item(
        self, request: Request[Any, Any, Any], uow: Uow, bank: BankName, key: ItemKey
    ) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            found = banks.get_item(db, bank=bank, key=key)
            info = banks.version_info(db, bank=bank)
            return self._editor(request, db, bank, found, info, new=False)

    def _editor(
        self,
        request: Request[Any, Any, Any],
        db: Session,
        bank: str,
        item: Item,
        info: banks.VersionInfo,
        *,
        new: bool,
    ) -> Template:
        topics = sorted({i.topic for i in banks.load_items(db, bank=bank) if i.topic})
        return render(
            request,
            "author/edit.html",
            bank=bank,
            item=item_view(item),
            info=info,
            new=new,
            topics=topics,
            editable_kinds=EDITABLE_KINDS,
            data={"bank": bank, "item": _plain(item), "new": new},
        )

    @get("/banks/{bank:str}/stats", sync_to_thread=True)
    def stats(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        version: LatestVersion = None,
    ) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            info = banks.version_info(db, bank=bank, version=version)
            result = banks.item_analysis(db, bank=bank, version=info.version)
            stems = {
                i.key: _short(i.stem) for i in banks.load_items(db, bank=bank, version=info.version)
            }
            latest = calibrations.latest(db, bank)
            calibrated = {i.key: i for i in latest.items} if latest is not None else {}
            return render(
                request,
                "author/stats.html",
                bank=bank,
                info=info,
                stats=result,
                stems=stems,
                versions=banks.list_versions(db, bank=bank),
                calibration=latest,
                calibrated=calibrated,
                cal_marks=cal_view.marks(latest, lang_of(request)),
                fmt_param=number,
                data={**_plain(result), "stems": stems},
            )

    @get("/banks/{bank:str}/calibrations", sync_to_thread=True)
    def calibrations(self, request: Request[Any, Any, Any], uow: Uow, bank: BankName) -> Template:
        """The bank's calibrations, newest first, and the form to calibrate now (its
        script posts to ``POST /api/banks/{bank}/calibrations``)."""
        with uow() as db:
            page_principal(request, *ROLES)
            lang = lang_of(request)
            versions = sorted(banks.list_versions(db, bank=bank), key=lambda v: -v.version)
            if not versions:
                raise BankNotFoundError(bank)
            rows = []
            for summary in calibrations.listing(db, bank):
                record = calibrations.get(db, bank, summary.number)
                link = record.link
                rows.append(
                    {
                        "record": summary,
                        "counts": cal_view.counts(record.items),
                        "link": cal_view.link_text(link.method, link.previous, link.anchors, lang),
                        "simulated": cal_view.simulated(summary.notes),
                    }
                )
            return render(
                request,
                "author/calibrations.html",
                bank=bank,
                versions=versions,
                rows=rows,
                models=cal_view.MODELS,
            )

    @get("/banks/{bank:str}/calibrations/{calibration:int}", sync_to_thread=True)
    def calibration_record(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        bank: BankName,
        calibration: CalibrationNumber,
        group: Filter = "",
        focal: Filter = "",
        reference: Filter = "",
    ) -> Template:
        """One calibration: its parameters with badges and curves, its notes, and DIF
        between the groups the form names (``?group=&focal=&reference=``)."""
        with uow() as db:
            page_principal(request, *ROLES)
            lang = lang_of(request)
            record = calibrations.get(db, bank, calibration)
            stems = {
                i.key: _short(i.stem)
                for i in banks.load_items(db, bank=bank, version=record.bank_version)
            }
            dif_rows: list[dict[str, Any]] | None = None
            dif_counts: dict[str, int] = {}
            dif_error = ""
            chosen = group if group in cal_view.DIF_GROUPS else "gender"
            if group:
                try:
                    report = calibrations.dif(
                        db, bank, calibration, group=group, focal=focal, reference=reference or None
                    )
                except calibrations.CalibrationRequestError as exc:
                    dif_error = exc.message if lang == "en" else exc.message_zh
                else:
                    dif_rows = cal_view.dif_rows(report.items, stems)
                    dif_counts = cal_view.dif_summary(report.items)
            return render(
                request,
                "author/calibration.html",
                bank=bank,
                record=record,
                link=cal_view.link_text(
                    record.link.method, record.link.previous, record.link.anchors, lang
                ),
                link_constants=cal_view.link_constants(record.link, lang),
                notes=cal_view.notes(record, lang),
                rows=cal_view.item_rows(record.items, stems, lang, record.min_responses),
                dif_groups=cal_view.DIF_GROUPS,
                group=chosen,
                focal=focal,
                reference=reference,
                known_groups=calibrations.dif_groups(db, bank, calibration, group=chosen),
                dif_min=calibrations.DIF_MIN_GROUP,
                dif=dif_rows,
                dif_counts=dif_counts,
                dif_error=dif_error,
                group_label=lambda value: cal_view.group_value(chosen, value, lang),
            )

    @get("/banks/{bank:str}/versions/{version:int}/topics", sync_to_thread=True)
    def topics(
        self, request: Request[Any, Any, Any], uow: Uow, bank: BankName, version: Version
    ) -> dict[str, Any]:
        """The spec builder's supply: topics with their active items per kind (JSON)."""
        with uow() as db:
            page_principal(request, *ROLES)
            return {"topics": _topics(banks.load_items(db, bank=bank, version=version))}

    @get("/exams/new", sync_to_thread=True)
    def new_exam(self, request: Request[Any, Any, Any], uow: Uow, bank: Filter = "") -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            spec = dict(NEW_SPEC)
            # The first section's title is a suggestion in the page's language.
            first = {
                **NEW_SPEC["sections"][0],
                "title": i18n.t("author.spec.first_section", lang_of(request)),
            }
            spec["sections"] = [first]
            choices = self._bank_choices(db)
            if bank or choices:
                chosen = next((c for c in choices if c["bank"] == bank), None) or choices[0]
                spec["bank"] = chosen["bank"]
                spec["bank_version"] = chosen["versions"][0]["version"]
            return self._builder(request, spec, choices, versions=[], new=True)

    @get("/exams/{key:str}/edit", sync_to_thread=True)
    def edit_exam(self, request: Request[Any, Any, Any], uow: Uow, key: ExamKey) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            detail = exams.exam_detail(db, exam=key)
            return self._builder(
                request,
                _plain(detail.spec),
                self._bank_choices(db),
                versions=sorted(detail.versions, key=lambda v: -v.version),
                new=False,
            )

    def _bank_choices(self, db: Session) -> list[dict[str, Any]]:
        """Every bank with its versions, newest first (the builder's bank menus)."""
        return [
            {
                "bank": b.bank,
                "versions": [
                    {"version": v.version, "state": v.state, "items": v.item_count}
                    for v in sorted(banks.list_versions(db, bank=b.bank), key=lambda v: -v.version)
                ],
            }
            for b in banks.list_banks(db)
        ]

    def _builder(
        self,
        request: Request[Any, Any, Any],
        spec: dict[str, Any],
        choices: list[dict[str, Any]],
        *,
        versions: list[exams.ExamVersionInfo],
        new: bool,
    ) -> Template:
        return render(
            request,
            "author/spec.html",
            spec=spec,
            new=new,
            versions=versions,
            kinds=[k.value for k in ItemKind],
            data={"spec": spec, "banks": choices, "new": new},
        )

    @get("/exams/{key:str}/sample", sync_to_thread=True)
    def sample(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        key: ExamKey,
        learner: LearnerRef = "preview",
        attempt: AttemptNumber = 1,
        version: LatestVersion = None,
    ) -> Template:
        with uow() as db:
            page_principal(request, *ROLES)
            detail = exams.exam_detail(db, exam=key)
            paper = exams.preview_paper(
                db, secret=_secret(state), exam=key, version=version, learner=learner,
                attempt=attempt,
            )  # fmt: skip
            return render(
                request,
                "author/sample.html",
                exam=key,
                detail=detail,
                paper=paper,
                questions=[(p, item_view(p.item, p.order)) for p in paper.items],
                total=sum(p.points for p in paper.items),
                learner=learner,
                attempt=attempt,
                version=version,
            )

    @get("/exams/{key:str}/information", sync_to_thread=True)
    def information(self, request: Request[Any, Any, Any], uow: Uow, key: ExamKey) -> Template:
        """The test information of the exam's papers: the mean curve, the spread across
        papers as a band, θ_c, and the pass standard."""
        with uow() as db:
            page_principal(request, *ROLES)
            lang = lang_of(request)
            detail = exams.exam_detail(db, exam=key)
            band = calibrations.exam_information(db, key, papers=INFORMATION_PAPERS)
            # the standard of the version the band was drawn from (the latest published)
            spec = detail.spec if detail.version.version == band.version else None
            at_cut = None
            if band.at_cut is not None:
                mean, low, high = band.at_cut
                at_cut = {"mean": number(mean), "low": number(low), "high": number(high)}
            return render(
                request,
                "author/information.html",
                exam=key,
                detail=detail,
                papers=band.papers,
                version=band.version,
                standard=str(spec.pass_standard) if spec is not None else None,
                calibration=band.calibration,
                theta_cut=number(band.theta_cut) if band.theta_cut is not None else None,
                at_cut=at_cut,
                chart=information_chart(
                    band.thetas,
                    band.mean,
                    band.p5,
                    band.p95,
                    lang,
                    chart_id="information",
                    cut=band.theta_cut,
                    papers=band.papers,
                ),
            )
