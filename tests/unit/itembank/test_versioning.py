"""Bank versions: diffs by author key and content fingerprints."""

from itembank.model import Item, Option, SingleChoice
from itembank.versioning import content_hash, diff


def make(key, stem="题干", topic="法律"):
    body = SingleChoice(options=(Option(id="A", text="是", fraction=1), Option(id="B", text="否")))
    return Item(key=key, stem=stem, body=body, topic=topic)


def test_diff_reports_added_removed_and_changed_fields_by_key():
    old = [make("a"), make("b"), make("c")]
    new = [make("a"), make("b", stem="新题干", topic="伦理"), make("d")]
    d = diff(old, new)
    assert d.added == ("d",)
    assert d.removed == ("c",)
    assert [(c.key, c.fields) for c in d.changed] == [("b", ("stem", "topic"))]
    assert d.lines() == ["+ d", "- c", "~ b: stem, topic"]


def test_diff_of_a_bank_with_itself_is_empty():
    items = [make("a"), make("b")]
    assert diff(items, list(items)).empty


def test_content_hash_changes_with_any_field_and_not_otherwise():
    assert content_hash([make("a")]) == content_hash([make("a")])
    assert content_hash([make("a")]) != content_hash([make("a", topic="伦理")])
