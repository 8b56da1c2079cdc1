"""Which keys a result may show (decision 0013): nothing while open or when the spec
shows none; never an item a formal paper the learner may still sit can hold; all of
them once the learner has passed (``after_formal``), none of the shared ones ever
(``unshared_only``); the formal pool is every item fitting a section, whatever its
status."""

import msgspec
import pytest

from examengine.blueprint import ExamSpec, KeyRelease
from examengine.disclosure import Disclosure, disclose, formal_pool
from itembank.model import Difficulty, Item, Status, TrueFalse

PAPER = ["a1", "a2", "b1"]


def spec(**changes):
    body = {
        "key": "e", "title": "t", "bank": "b", "bank_version": 1,
        "sections": [{"title": "s", "kind": "true_false", "count": 2, "topics": ["a"]}],
    }  # fmt: skip
    return msgspec.convert({**body, **changes}, ExamSpec)


def item(key, topic, status=Status.ACTIVE):
    return Item(
        key=key,
        stem=key,
        body=TrueFalse(answer=True),
        topic=topic,
        difficulty=Difficulty(band=3),
        status=status,
    )


#: What the last ``ask`` read: the rule must not pay for reads it does not need.
ASKED: list[str] = []


def ask(*, pool=frozenset({"a1", "a2"}), ahead=True, **options) -> Disclosure:
    asked = ASKED
    asked.clear()

    def pool_of() -> frozenset[str]:
        asked.append("pool")
        return pool

    def ahead_of() -> bool:
        asked.append("ahead")
        return ahead

    defaults = {
        "spec": spec(show_key_after_close=True),
        "release": KeyRelease.AFTER_FORMAL,
        "practice": True,
        "closed": True,
        "paper": PAPER,
    }
    return disclose(**{**defaults, **options}, pool=pool_of, formal_ahead=ahead_of)


def test_the_defaults_hold_every_key_back_the_safe_way():
    default = ExamSpec(key="e", title="t", bank="b", bank_version=1, sections=())
    assert default.key_release is KeyRelease.AFTER_FORMAL
    assert default.show_key_after_close is False and default.practice.show_key is True
    assert (default.practice.per_day, default.practice.cooldown_s) == (3, 600)


def test_an_open_attempt_shows_no_key_and_reads_nothing():
    assert ask(closed=False) == Disclosure(shown=frozenset(), held="open")
    assert ASKED == []


@pytest.mark.parametrize("practice", [True, False])
def test_a_spec_that_shows_no_key_shows_none(practice):
    off = spec(show_key_after_close=False, practice={"show_key": False})
    assert ask(spec=off, practice=practice, ahead=False) == Disclosure(
        shown=frozenset(), held="off"
    )


def test_practice_follows_its_own_switch_and_formal_its_own():
    practice_only = spec(show_key_after_close=False, practice={"show_key": True})
    assert ask(spec=practice_only, practice=True, ahead=False).shown == set(PAPER)
    assert ask(spec=practice_only, practice=False, ahead=False).held == "off"


@pytest.mark.parametrize("practice", [True, False])
def test_while_a_formal_paper_lies_ahead_only_items_outside_the_formal_pool_are_shown(practice):
    answer = ask(practice=practice, ahead=True)
    assert answer == Disclosure(shown=frozenset({"b1"}), held="formal_ahead")


def test_a_paper_wholly_in_the_formal_pool_shows_nothing_while_a_formal_paper_lies_ahead():
    answer = ask(pool=frozenset(PAPER), ahead=True)
    assert answer == Disclosure(shown=frozenset(), held="formal_ahead")


def test_once_the_learner_has_passed_every_key_is_shown_under_after_formal():
    assert ask(ahead=False) == Disclosure(shown=frozenset(PAPER), held="")
    assert ASKED == ["ahead"]


def test_under_unshared_only_a_shared_key_is_never_shown_even_after_passing():
    answer = ask(release=KeyRelease.UNSHARED_ONLY, ahead=False)
    assert answer == Disclosure(shown=frozenset({"b1"}), held="shared")


def test_a_paper_outside_the_formal_pool_is_shown_whole_with_nothing_held():
    assert ask(pool=frozenset({"x"}), ahead=True) == Disclosure(shown=frozenset(PAPER), held="")


def test_the_formal_pool_is_every_item_fitting_a_section_whatever_its_status():
    items = [item("a1", "a"), item("a2", "a", Status.RETIRED), item("b1", "b")]
    assert formal_pool(spec(), items) == {"a1", "a2"}
    assert formal_pool(spec(sections=[]), items) == frozenset()
