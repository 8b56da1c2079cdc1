"""The API description says what the API sends: a Struct encoded as an array (a paper's
items, a save's references) is described as that array, so that a client generated from
the document, or schemathesis, reads the real reply."""

from __future__ import annotations

from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from api.services.attempts import SaveRef, SaveResult
from api.settings import Settings
from examengine.assembly import Paper, PaperItem


def component(app: Litestar, name: str) -> dict[str, Any]:
    with TestClient(app) as client:
        document = client.get("/schema/openapi.json").json()
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_array_like_structs_are_described_as_the_arrays_they_encode_to(
    settings_sqlite: Settings,
) -> None:
    app = create_app(settings_sqlite)
    paper = Paper(
        seed="s",
        items=(PaperItem(key="law-001", section=0, points=2.0, order=("B", "A")),),
        difficulty=0.1,
    )
    saved = SaveResult(
        attempt="a1",
        accepted=(SaveRef(item="law-001", seq=3),),
        repeated=(),
        stale=(),
        last_seq=3,
        seconds_left=100,
        server_ms=1,
    )
    for name, value in (("Paper", paper), ("SaveResult", saved)):
        schema = component(app, name)
        reply = msgspec.json.decode(msgspec.json.encode(value))
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(reply)]
        assert errors == [], (name, errors)
    item = component(app, "Paper")["properties"]["items"]["items"]
    assert item["type"] == "array"
    assert [s["type"] for s in item["prefixItems"]] == ["string", "integer", "number", "array"]
    assert (item["minItems"], item["maxItems"]) == (3, 4)
