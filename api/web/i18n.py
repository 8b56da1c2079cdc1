"""The pages' message catalogue: every UI string, Simplified Chinese first, English second.

Templates call ``t("key")`` (the base context binds the page's language); JavaScript
modules get the strings they need as JSON in the page (``js_messages``), so there is one
place for UI wording. A module with strings of its own (the author and proctor pages)
adds them with ``register({...})`` at import; a key may be registered once only.

Placeholders use ``str.format`` names: ``t("exams.attempts_left", n=2)``. A count that
needs an English plural is two keys, ``KEY.one`` and ``KEY.other`` (Chinese says both
alike), and ``tn("KEY", n)`` picks one and fills ``{n}``: "1 attempt", "2 attempts".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

#: key -> (zh, en)
_CATALOGUE: dict[str, tuple[str, str]] = {}


def register(messages: Mapping[str, tuple[str, str]]) -> None:
    """Add ``messages`` (key -> (zh, en)); a key already present is an error."""
    taken = sorted(set(messages) & set(_CATALOGUE))
    if taken:
        raise ValueError(f"message keys registered twice: {', '.join(taken)}")
    _CATALOGUE.update(messages)


def t(key: str, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """The message ``key`` in ``lang``, placeholders filled; the key itself if unknown
    (a missing string shows up on the page instead of failing it)."""
    pair = _CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text


def tn(key: str, n: int, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """``KEY.one`` when ``n`` is 1, else ``KEY.other``, with ``{n}`` and ``values`` filled
    (English plural rules; Chinese registers the same text for both)."""
    return t(f"{key}.{'one' if n == 1 else 'other'}", lang, n=n, **values)


def js_messages(lang: str, prefixes: Iterable[str]) -> dict[str, str]:
    """The messages whose keys start with one of ``prefixes``, in ``lang`` (for JS)."""
    wanted = tuple(prefixes)
    return {key: t(key, lang) for key in _CATALOGUE if key.startswith(wanted)}


def known(key: str) -> bool:
    return key in _CATALOGUE


register(
    {
        # ------------------------------------------------------------------ shell
        "app.name": ("继续教育在线考试", "Continuing Education Exams"),
        "app.skip": ("跳到主要内容", "Skip to main content"),
        "app.lang_switch": ("English", "中文"),
        "app.lang_switch_label": ("Switch to English", "切换到中文"),
        "app.signed_in_as": ("当前用户：{name}", "Signed in as {name}"),
        "app.logout": ("退出登录", "Sign out"),
        "app.home": ("首页", "Home"),
        "app.nav": ("主导航", "Main navigation"),
        "app.js_required": (
            "本页面需要启用 JavaScript。",
            "This page needs JavaScript to be enabled.",
        ),
        "js.network_error": (
            "网络连接失败，请检查网络后重试。",
            "The network is unreachable; check your connection and try again.",
        ),
        "js.unknown_error": ("操作失败，请稍后重试。", "Something went wrong; please try again."),
        # ------------------------------------------------------------------ login
        "login.title": ("登录", "Sign in"),
        "login.intro": (
            "请使用身份证号或手机号登录。",
            "Sign in with your resident ID number or your mobile phone number.",
        ),
        "login.login": ("身份证号或手机号", "ID number or phone number"),
        "login.login_hint": (
            "18 位身份证号（末位 X 请大写）或 11 位手机号",
            "18-character ID number (upper-case X) or 11-digit phone number",
        ),
        "login.password": ("密码", "Password"),
        "login.submit": ("登录", "Sign in"),
        "login.no_pages": (
            "您已登录，但该账号的角色暂无网页（可通过接口使用）。如需使用其他账号，请在下方登录。",
            "You are signed in, but this account's role has no pages yet (it works through the "
            "API). To use another account, sign in below.",
        ),
        "js.login.busy": ("正在登录…", "Signing in…"),
        # --------------------------------------------------------------- password
        "password.title": ("修改密码", "Change your password"),
        "password.forced": (
            "首次登录或密码已被重置：为保护您的账号，请先设置新密码。",
            "First sign-in or a reset password: please set a new password to protect your account.",
        ),
        "password.current": ("当前密码", "Current password"),
        "password.new": ("新密码", "New password"),
        "password.new_hint": (
            "至少 8 位，含字母、数字、符号中的两类，不能包含身份证号或手机号，不能是常见密码，"
            "不能与当前密码相同。修改后，您在其他设备上的登录将失效。",
            "At least 8 characters of two kinds (letters, digits, symbols), without your ID "
            "or phone number, not a common password, different from the current one. Your "
            "sign-ins on other devices end when you change it.",
        ),
        "password.confirm": ("再次输入新密码", "New password again"),
        "password.submit": ("保存新密码", "Save the new password"),
        "js.password.mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
        "js.password.done": ("密码已修改。", "Your password has been changed."),
        # --------------------------------------------------------------- activate
        "activate.title": ("设置密码", "Choose your password"),
        "activate.intro": (
            "欢迎！请为您的账号设置密码。设置后即可用身份证号或手机号和此密码登录。",
            "Welcome! Choose the password of your account; then sign in with your ID number "
            "or phone number and this password.",
        ),
        "activate.no_token": (
            "此页面需通过短信或单位转发的激活链接打开。链接不完整时，请联系单位管理员重新发送。",
            "Open this page from the activation link you were sent. If the link is "
            "incomplete, ask your employer's administrator to send it again.",
        ),
        "activate.new_hint": (
            "至少 8 位，含字母、数字、符号中的两类，不能包含身份证号或手机号，不能是常见密码。"
            "链接只能使用一次。",
            "At least 8 characters of two kinds (letters, digits, symbols), without your ID "
            "or phone number, not a common password. The link works once.",
        ),
        "activate.submit": ("设置密码并登录", "Set the password and sign in"),
        # ---------------------------------------------------------------- my exams
        "exams.title": ("我的考试", "My exams"),
        "exams.none": ("您目前没有需要参加的考试。", "You are not enrolled for any exam."),
        "exams.duration.one": ("考试时长：{n} 分钟", "Duration: {n} minute"),
        "exams.duration.other": ("考试时长：{n} 分钟", "Duration: {n} minutes"),
        "exams.attempts": (
            "考试机会：已用 {used} 次，共 {allowed} 次，剩余 {left} 次",
            "Attempts: {used} used of {allowed}, {left} left",
        ),
        "exams.status": ("状态", "Status"),
        "exams.passed": ("已通过", "Passed"),
        "exams.locked": ("已锁定", "Locked"),
        "exams.open": ("进行中", "In progress"),
        "exams.available": ("可以考试", "Available"),
        "exams.unavailable": ("暂不可考", "Not available"),
        "exams.not_open": ("尚未到您的开考时间", "Your start is not open yet"),
        "exams.open_attempt.one": (
            "您有一场正在进行的考试，剩余约 {n} 分钟。计时不会暂停，请尽快继续。",
            "You have an attempt in progress, about {n} minute left. The clock does "
            "not stop: continue it soon.",
        ),
        "exams.open_attempt.other": (
            "您有一场正在进行的考试，剩余约 {n} 分钟。计时不会暂停，请尽快继续。",
            "You have an attempt in progress, about {n} minutes left. The clock does "
            "not stop: continue it soon.",
        ),
        "exams.open_practice.one": (
            "您有一场正在进行的模拟练习，剩余约 {n} 分钟。",
            "You have a practice attempt in progress, about {n} minute left.",
        ),
        "exams.open_practice.other": (
            "您有一场正在进行的模拟练习，剩余约 {n} 分钟。",
            "You have a practice attempt in progress, about {n} minutes left.",
        ),
        "exams.resume": ("继续作答", "Continue"),
        "exams.resume_practice": ("继续模拟练习", "Continue the practice"),
        "exams.start": ("查看考试须知并开始", "Read the rules and start"),
        "exams.practice": ("模拟练习（不计成绩）", "Practice (does not count)"),
        "exams.practice_wait": (
            "模拟练习暂不可用：{reason}",
            "Practice is not possible now: {reason}",
        ),
        "exams.history": ("考试记录", "Attempts so far"),
        "exams.history_number": ("第 {n} 次", "Attempt {n}"),
        "exams.history_practice": ("模拟练习 {n}", "Practice {n}"),
        "exams.view_result": ("查看结果", "View the result"),
        "exams.score": ("得分 {score} / {max}", "Score {score} / {max}"),
        # --------------------------------------------------------------- states
        "state.in_progress": ("进行中", "in progress"),
        "state.overdue": ("已到时（宽限期）", "time up (grace period)"),
        "state.submitted": ("已交卷", "submitted"),
        "state.expired": ("超时未交卷", "expired"),
        "state.terminated": ("已终止", "terminated"),
        "result.pass": ("合格", "Pass"),
        "result.fail": ("不合格", "Fail"),
        # --------------------------------------------------------------- rules
        "rules.title": ("考试须知", "Exam rules"),
        "rules.practice_title": ("模拟练习须知", "Practice rules"),
        "rules.duration.one": (
            "考试时长 {n} 分钟，从点击“开始考试”时起计时，以服务器时间为准。",
            "The exam lasts {n} minute, counted by the server's clock from the moment you start.",
        ),
        "rules.duration.other": (
            "考试时长 {n} 分钟，从点击“开始考试”时起计时，以服务器时间为准。",
            "The exam lasts {n} minutes, counted by the server's clock from the moment you start.",
        ),
        "rules.attempts": (
            "本考试共 {allowed} 次机会，您还剩 {left} 次；开始即计为一次。",
            "Attempts left: {left} of {allowed}; an attempt counts once started.",
        ),
        "rules.exhausted": (
            "两次考试均未合格的人员需重新学习后才能再次考试。",
            "A learner who fails every attempt must study again before sitting again.",
        ),
        "rules.paper": (
            "试卷由题库随机生成，每位学员的试题不完全相同。",
            "The paper is drawn at random from the item bank: every learner's paper differs.",
        ),
        "rules.save": (
            "每次作答都会立即自动保存；网络中断时答案暂存在本机，恢复后自动补存。",
            "Every answer is saved at once; while the network is down answers are kept in "
            "this browser and saved when it is back.",
        ),
        "rules.interrupt": (
            "如考试中断（死机、断网等），请在考试时间结束前重新登录继续作答，"
            "计时不会暂停；超时未交卷的，本次考试无成绩，按不合格记录。",
            "If the exam is interrupted (crash, network), sign in again and continue before "
            "the time runs out: the clock does not stop. An attempt not submitted in time "
            "has no score and is recorded as failed.",
        ),
        "rules.integrity": (
            "正式考试中，切换窗口、退出全屏、复制和粘贴将被记录。",
            "During a formal exam, leaving the window, leaving full screen, copying and "
            "pasting are recorded.",
        ),
        "rules.result": (
            "交卷后立即显示考试结果（合格或不合格）。",
            "The result (pass or fail) is shown as soon as you submit.",
        ),
        "rules.practice": (
            "模拟练习不计入考试次数和成绩。",
            "Practice attempts count neither as attempts nor towards your result.",
        ),
        "rules.practice_limits": (
            "每天最多可进行 {per_day} 次模拟练习，两次之间需间隔 {minutes} 分钟；"
            "在您通过正式考试之前，不显示可能出现在正式试卷上的试题的参考答案。",
            "Practice attempts a day: {per_day}; time between two: {minutes} min. Until you "
            "pass the exam, no key is shown of an item that may appear on a formal paper.",
        ),
        "rules.start": ("开始考试", "Start the exam"),
        "rules.start_practice": ("开始模拟练习", "Start the practice"),
        "rules.back": ("返回我的考试", "Back to my exams"),
        "rules.cannot_start": ("当前不能开始：{reason}", "You cannot start now: {reason}"),
        "js.rules.busy": ("正在生成试卷…", "Preparing your paper…"),
        "js.rules.refused": (
            "考试人数较多，服务器正忙。将在 {seconds} 秒后自动重试——"
            "考试计时尚未开始，请勿关闭页面。",
            "Many learners are starting now and the server is busy. Trying again in {seconds} s"
            " — your exam time has not started; please keep this page open.",
        ),
        # ---------------------------------------------------------------- exam
        "exam.time_left": ("剩余时间", "Time left"),
        "exam.navigator": ("答题卡", "Question navigator"),
        "exam.legend_answered": ("已答", "answered"),
        "exam.legend_unanswered": ("未答", "unanswered"),
        "exam.legend_flagged": ("已标记", "flagged"),
        "exam.question": ("第 {n} 题", "Question {n}"),
        "exam.points": ("{points} 分", "{points} points"),
        "exam.points_n.one": ("{points} 分", "{points} point"),
        "exam.points_n.other": ("{points} 分", "{points} points"),
        "exam.meta": ("（{kind}，{points}）", "({kind}, {points})"),
        "exam.section": ("{numeral}、{name}", "Section {n}: {name}"),
        "exam.section_count.one": ("（共 {n} 题，{points}）", "({n} question, {points})"),
        "exam.section_count.other": ("（共 {n} 题，{points}）", "({n} questions, {points})"),
        "exam.navigator_help": (
            "用方向键在题号间移动，按回车键跳到该题。",
            "Use the arrow keys to move between questions and Enter to go to one.",
        ),
        "exam.flag": ("标记此题", "Flag this question"),
        "exam.true": ("正确", "True"),
        "exam.false": ("错误", "False"),
        "exam.answer": ("答案", "Answer"),
        "exam.blank": ("请输入答案", "Type your answer"),
        "exam.choose": ("请选择", "Choose"),
        "exam.submit": ("交卷", "Submit"),
        "exam.fullscreen": ("全屏作答", "Full screen"),
        "exam.practice_badge": ("模拟练习", "Practice"),
        "exam.kind.single": ("单选题", "Single choice"),
        "exam.kind.multiple": ("多选题", "Multiple choice"),
        "exam.kind.true_false": ("判断题", "True or false"),
        "exam.kind.fill_blank": ("填空题", "Fill in the blank"),
        "exam.kind.numerical": ("数值题", "Numerical"),
        "exam.kind.matching": ("匹配题", "Matching"),
        "js.exam.saved": ("已保存", "Saved"),
        "js.exam.saving": ("正在保存…", "Saving…"),
        "js.exam.offline": (
            "网络已断开：答案暂存在本机，恢复后自动保存",
            "Offline: answers are kept in this browser and saved when the network is back",
        ),
        "js.exam.pending.one": ("{n} 项待保存", "{n} change waiting"),
        "js.exam.pending.other": ("{n} 项待保存", "{n} changes waiting"),
        "js.exam.extended.one": (
            "监考老师为您延长了 {n} 分钟，剩余时间已更新。",
            "The proctor gave you {n} more minute; the time left is updated.",
        ),
        "js.exam.extended.other": (
            "监考老师为您延长了 {n} 分钟，剩余时间已更新。",
            "The proctor gave you {n} more minutes; the time left is updated.",
        ),
        "js.exam.flags_unsaved": (
            "标记未能保存到服务器（仅保存在本机）。",
            "The flags could not be saved on the server (kept in this browser only).",
        ),
        "js.exam.warn5": (
            "距离考试结束还有 5 分钟，请抓紧时间。",
            "5 minutes left: please finish up.",
        ),
        "js.exam.warn1": (
            "距离考试结束还有 1 分钟，请尽快交卷。",
            "1 minute left: please submit now.",
        ),
        "js.exam.time_up": (
            "考试时间已到，正在确认结果…",
            "Time is up; fetching the result…",
        ),
        "js.exam.confirm_title": ("确认交卷", "Submit your paper?"),
        "js.exam.confirm_all": (
            "所有题目均已作答。交卷后不能再修改。",
            "Every question is answered. You cannot change answers after submitting.",
        ),
        "js.exam.confirm_unanswered.one": (
            "以下 {n} 道题尚未作答：{list}。交卷后不能再修改。",
            "{n} question is unanswered: {list}. You cannot change answers after submitting.",
        ),
        "js.exam.confirm_unanswered.other": (
            "以下 {n} 道题尚未作答：{list}。交卷后不能再修改。",
            "{n} questions are unanswered: {list}. You cannot change answers after submitting.",
        ),
        "js.exam.confirm_flagged.one": (
            "您标记了 {n} 道题：{list}。",
            "You flagged {n} question: {list}.",
        ),
        "js.exam.confirm_flagged.other": (
            "您标记了 {n} 道题：{list}。",
            "You flagged {n} questions: {list}.",
        ),
        "js.exam.confirm_yes": ("确认交卷", "Submit"),
        "js.exam.confirm_no": ("继续作答", "Keep answering"),
        "js.exam.wait_offline": (
            "网络恢复、答案全部保存后才能交卷。",
            "You can submit once the network is back and every answer is saved.",
        ),
        "js.exam.device_moved": (
            "本次考试已在另一台设备上继续，当前页面不能再保存答案。",
            "This attempt was continued on another device; this page can no longer save.",
        ),
        "js.exam.q": ("第 {n} 题", "Question {n}"),
        "js.exam.nav_label": ("第 {n} 题，{state}", "Question {n}, {state}"),
        "js.exam.answered": ("已答", "answered"),
        "js.exam.unanswered": ("未答", "unanswered"),
        "js.exam.flagged": ("已标记", "flagged"),
        "js.exam.list_sep": ("、", ", "),
        # -------------------------------------------------------------- result
        "result.title": ("考试结果", "Result"),
        "result.exam": ("考试", "Exam"),
        "result.attempt": ("第 {n} 次考试", "Attempt {n}"),
        "result.practice_attempt": ("模拟练习 第 {n} 次", "Practice {n}"),
        "result.outcome": ("结果", "Outcome"),
        "result.score": ("得分", "Score"),
        "result.which": ("考试次数", "Attempt"),
        "result.score_value": ("{score} / {max} 分", "{score} / {max}"),
        "result.pass_mark": ("合格线", "Pass mark"),
        "result.pass_mark_value": (
            "{score} 分（满分的 {percent}%）",
            "{score} ({percent}% of the maximum)",
        ),
        "result.paper_pass_mark": ("本卷合格线", "Pass mark of your paper"),
        "result.pass_mark_equated": (
            "{score} 分（满分 {max} 分，按等值换算）",
            "{score} of {max} points (equated)",
        ),
        "result.pass_mark_equated_note": (
            "每位学员的试卷不同，难度略有差别。本卷的合格线按等值换算确定：无论抽到哪份试卷，"
            "能力相同的学员合格的机会相同。试卷稍难，合格线就稍低；稍易则稍高。",
            "Every learner gets a different paper, and papers differ a little in "
            "difficulty. Your paper's pass mark is set by equating, so that learners of the "
            "same ability have the same chance to pass whichever paper they draw: a harder "
            "paper has a lower pass mark, an easier one a higher.",
        ),
        "result.attempts_left": ("剩余考试机会", "Attempts left"),
        "result.attempts_left_value": (
            "{left} 次（共 {allowed} 次）",
            "{left} of {allowed}",
        ),
        "result.next": ("下一步", "What next"),
        "result.next_passed": (
            "您已通过本考试，无需再次参加。",
            "You have passed this exam; you need not sit it again.",
        ),
        "result.next_retry.one": (
            "您还有 {n} 次考试机会。建议复习后再参加考试。",
            "You have {n} attempt left. Review the course, then sit the exam again.",
        ),
        "result.next_retry.other": (
            "您还有 {n} 次考试机会。建议复习后再参加考试。",
            "You have {n} attempts left. Review the course, then sit the exam again.",
        ),
        "result.next_restudy": (
            "考试机会已用完：需重新学习课程后才能再次参加考试。",
            "No attempts are left: study the course again before you can sit the exam again.",
        ),
        "result.next_practice": (
            "模拟练习不计成绩。准备好后可参加正式考试。",
            "A practice attempt does not count. Sit the exam when you are ready.",
        ),
        "result.go_study": ("去学习", "Go to my study plans"),
        "result.go_exams": ("查看我的考试", "Go to my exams"),
        "result.review_intro": (
            "以下是每道题的题目、您的答案、参考答案、得分和解析。",
            "Each question with your answer, the key, your points and the explanation.",
        ),
        "result.review_points": ("得分：{points} / {max}", "Points: {points} / {max}"),
        "result.mark_right": ("正确", "Right"),
        "result.mark_wrong": ("错误", "Wrong"),
        "result.mark_partial": ("部分正确", "Partly right"),
        "result.no_answer": ("未作答", "Not answered"),
        "result.your_choice": ("您的选择", "your choice"),
        "result.key_choice": ("正确选项", "correct"),
        "result.prompt": ("题目", "Prompt"),
        "result.tolerance": ("{value}（允许误差 ±{tolerance}）", "{value} (± {tolerance})"),
        "result.key_open": (
            "考试结束后才能查看参考答案。",
            "The key is shown once the attempt is closed.",
        ),
        "result.no_score": ("无成绩", "No score"),
        "result.started": ("开始时间", "Started"),
        "result.finished": ("结束时间", "Finished"),
        "result.expired": (
            "本次考试在规定时间内未交卷：按规定，本次考试无成绩，按不合格记录。",
            "This attempt was not submitted before its time ran out: by the rules it has no "
            "score and is recorded as failed.",
        ),
        "result.terminated": (
            "本次考试已被监考人员终止，按不合格记录。原因：{reason}",
            "A proctor ended this attempt; it is recorded as failed. Reason: {reason}",
        ),
        "result.open": (
            "本次考试尚未结束。",
            "This attempt is still in progress.",
        ),
        "result.passed_note": ("恭喜，您已通过本考试。", "Congratulations: you passed."),
        "result.failed_note": (
            "未通过。如仍有考试机会，可再次参加考试。",
            "Not passed. If you have attempts left, you may sit the exam again.",
        ),
        "result.practice_note": (
            "模拟练习不计入考试成绩。",
            "A practice attempt does not count.",
        ),
        "result.key_formal_ahead": (
            "可能出现在您尚可参加的正式考试中的试题，其参考答案将在您通过本考试后提供。",
            "The key of items that may appear on a formal paper you may still sit is shown "
            "once you have passed the exam.",
        ),
        "result.key_shared": (
            "本考试不公布正式考试题库中试题的参考答案。",
            "This exam does not show the key of items its formal papers can hold.",
        ),
        "result.review": ("答案解析", "Review"),
        "result.your_answer": ("您的答案", "Your answer"),
        "result.correct_answer": ("参考答案", "Correct answer"),
        "result.explanation": ("解析", "Explanation"),
        "result.back": ("返回我的考试", "Back to my exams"),
        "result.continue": ("继续作答", "Continue"),
    }
)
