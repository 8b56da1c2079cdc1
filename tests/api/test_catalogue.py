"""The message catalogue as a whole (api/web/i18n.py and every module's ``register``):
every string has both languages, the English ones hold no Chinese (only the language
switch, which names 中文 on purpose), and every literal key any template or script asks
for is there — a missing key would show itself on the page as the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import api.app  # noqa: F401  (importing the app registers every page's strings)
from api.web import i18n
from tests.api.test_learner_strings import WEB, calls

#: Chinese characters and full-width punctuation.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff01-\uff5e]")
#: Strings whose English side names the other language on purpose.
NAMES_CHINESE = {"app.lang_switch", "app.lang_switch_label"}
SOURCES = sorted((WEB / "templates").rglob("*.html")) + sorted((WEB / "static" / "js").glob("*.js"))


def test_every_string_has_both_languages_and_english_holds_no_chinese() -> None:
    catalogue = i18n._CATALOGUE  # the one place the strings live
    assert len(catalogue) > 1000
    assert not [key for key, (zh, en) in catalogue.items() if not zh.strip() or not en.strip()]
    chinese = {key: en for key, (_, en) in catalogue.items() if CJK.search(en)}
    assert set(chinese) == NAMES_CHINESE, chinese


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(WEB)))
def test_every_key_a_page_or_script_asks_for_is_in_the_catalogue(source: Path) -> None:
    text = source.read_text()
    keys = {key for _, key in calls(text)}
    plural = {key for fn, key in calls(text) if fn == "tn"}
    missing = sorted(
        key
        for key in keys
        if not i18n.known(key) and not (key in plural and i18n.known(f"{key}.one"))
    )
    assert not missing, f"{source.name} asks for keys the catalogue does not have: {missing}"
