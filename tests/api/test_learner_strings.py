"""The learner's exam, result, rules and exams pages and the exam page's script use
only strings the catalogue has, in both languages, and counts take their English
plural (decision 0031): a missing key would show itself on the page instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.web import i18n
from api.web.learner import _section_heading  # (the import registers the pages' strings)

WEB = Path(i18n.__file__).parent
PAGES = ["exam.html", "result.html", "rules.html", "exams.html"]
#: t("key" …) and tn("key", …) with a literal key (a computed key is checked by the pages' tests)
CALL = re.compile(r"""\b(tn?)\(\s*["']([a-z_][\w.]*)["']""")


def calls(text: str) -> set[tuple[str, str]]:
    """The literal keys asked for ("exam.kind." + kind is computed: left out)."""
    found = {(m.group(1), m.group(2)) for m in CALL.finditer(text)}
    return {(f, key) for f, key in found if not key.endswith((".", "_"))}


@pytest.mark.parametrize(
    "source",
    [WEB / "templates" / "learner" / name for name in PAGES] + [WEB / "static" / "js" / "exam.js"],
    ids=lambda p: p.name,
)
def test_every_string_a_page_asks_for_is_in_the_catalogue(source: Path) -> None:
    found = calls(source.read_text(encoding="utf-8"))
    assert found, source
    missing = []
    for function, key in found:
        keys = [f"{key}.one", f"{key}.other"] if function == "tn" else [key]
        missing += [k for k in keys if not i18n.known(k)]
    assert missing == [], missing


def test_counts_take_the_english_plural_and_chinese_says_both_alike() -> None:
    assert i18n.tn("js.exam.confirm_unanswered", 1, "en", list="Question 3").startswith(
        "1 question is unanswered: Question 3."
    )
    assert i18n.tn("js.exam.confirm_unanswered", 2, "en", list="Question 3, Question 4").startswith(
        "2 questions are unanswered"
    )
    assert i18n.tn("exam.section_count", 1, "en", points="5 points") == "(1 question, 5 points)"
    assert i18n.tn("exam.section_count", 6, "zh", points="30 分") == "（共 6 题，30 分）"
    assert i18n.tn("js.exam.extended", 1, "en") == (
        "The proctor gave you 1 more minute; the time left is updated."
    )
    assert i18n.tn("js.exam.extended", 10, "zh") == "监考老师为您延长了 10 分钟，剩余时间已更新。"
    assert i18n.tn("result.next_retry", 1, "en").startswith("You have 1 attempt left.")
    assert i18n.tn("exams.duration", 120, "en") == "Duration: 120 minutes"


def test_section_headings_in_the_pages_language_with_the_authors_words_marked() -> None:
    assert _section_heading(1, "一、单项选择题", {"single"}, "zh") == (
        '一、<span data-content="">单项选择题</span>'
    )
    assert _section_heading(2, "判断题", {"true_false"}, "zh") == (
        '二、<span data-content="">判断题</span>'
    )
    assert _section_heading(1, "一、单项选择题", {"single"}, "en") == "Section 1: Single choice"
    mixed = _section_heading(3, "三、综合题 <b>", {"single", "multiple"}, "en")
    assert mixed == 'Section 3: <span data-content="">综合题 &lt;b&gt;</span>'
