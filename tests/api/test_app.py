"""The HTTP shell: probes, OpenAPI, metrics, problem+json errors, request ids and logs,
and one transaction per request."""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import FromQuery
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from sqlmodel import select

from api.app import GC_THRESHOLDS, create_app
from api.http.errors import EXCEPTION_HANDLERS, PROBLEM_JSON, domain_handler
from api.logging import ACCESS_LOGGER, JsonFormatter
from api.settings import DatabaseSettings, RedisSettings, Settings
from api.store.db import Uow, migrate
from api.store.tables import Bank

Client = AsyncTestClient[Litestar]


class SeatTaken(Exception):
    """A stand-in for a domain exception: structured fields, no HTTP status."""

    code = "seat_taken"
    message = "The seat is taken."
    message_zh = "座位已被占用。"


@post("/probe/bank", sync_to_thread=True)
def add_bank(uow: Uow, fail: FromQuery[bool] = False) -> dict[str, str]:
    with uow() as db:
        db.add(Bank(name="probe"))
        db.flush()
        if fail:
            raise RuntimeError("after the write")
    return {"name": "probe"}


@get("/probe/banks", sync_to_thread=True)
def bank_names(uow: Uow) -> list[str]:
    with uow() as db:
        return [bank.name for bank in db.exec(select(Bank)).all()]


@get("/probe/domain", sync_to_thread=False)
def domain_error() -> None:
    raise SeatTaken


@get("/probe/crash", sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("secret internals")


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    return [add_bank, bank_names, domain_error, crash]


async def test_health_answers_200_without_touching_the_database(app_client: Client) -> None:
    response = await app_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}
    assert "set-cookie" not in response.headers


async def test_ready_reports_the_database_ok_and_redis_not_configured(app_client: Client) -> None:
    response = await app_client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "not configured"},
    }


async def test_ready_is_503_naming_the_database_when_it_is_down(settings_sqlite: Settings) -> None:
    dead = settings_sqlite.replace(
        database=DatabaseSettings(url="postgresql://postgres@127.0.0.1:1/nowhere")
    )
    async with AsyncTestClient(app=create_app(dead)) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "not_ready"
    assert "database" in body["detail"] and "database" in body["detail_zh"]
    assert body["errors"] == [{"check": "database", "status": "unreachable"}]


@pytest.mark.redis
async def test_ready_checks_redis_when_it_is_configured(settings_redis: Settings) -> None:
    migrate(settings_redis.database.url)
    async with AsyncTestClient(app=create_app(settings_redis)) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_ready_is_503_naming_redis_when_it_is_down(settings_sqlite: Settings) -> None:
    migrate(settings_sqlite.database.url)
    dead = settings_sqlite.replace(redis=RedisSettings(url="redis://127.0.0.1:1/0"))
    async with AsyncTestClient(app=create_app(dead)) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["errors"] == [{"check": "redis", "status": "unreachable"}]


@pytest.mark.parametrize("cluster", [False, True], ids=["server", "cluster"])
async def test_with_redis_down_a_signed_in_request_is_503_with_retry_after_not_500(
    settings_sqlite: Settings, cluster: bool
) -> None:
    """The session store cannot be read (Redis restarting): try again, in both languages."""
    migrate(settings_sqlite.database.url)
    dead = settings_sqlite.replace(redis=RedisSettings(url="redis://127.0.0.1:1", cluster=cluster))
    async with AsyncTestClient(app=create_app(dead)) as client:
        client.cookies.set("examengine_session", "a" * 32)
        me = await client.get("/auth/me")
        login = await client.post("/auth/login", json={"login": "x", "password": "y"})
    for response in (me, login):
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "redis_unavailable"
        assert "稍后重试" in response.json()["detail_zh"]
        assert int(response.headers["retry-after"]) >= 1


async def test_the_openapi_document_is_served_under_schema(app_client: Client) -> None:
    response = await app_client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "examengine"
    assert {"/health", "/ready", "/auth/login", "/auth/me"} <= set(document["paths"])
    assert "/metrics" not in document["paths"]


async def test_metrics_count_requests_per_path_and_status(app_client: Client) -> None:
    """Every request but the probes' (not traffic) and the study hot path's (it counts
    itself: tests/api/test_study.py)."""
    await app_client.get("/auth/me")
    await app_client.get("/health")
    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(
        line.startswith("examengine_requests_total{")
        and 'path="/auth/me"' in line
        and 'status_code="401"' in line
        for line in lines
    )
    assert not any(
        line.startswith("examengine_requests_total{") and 'path="/health"' in line for line in lines
    )


async def test_an_unknown_path_is_a_bilingual_problem_404(app_client: Client) -> None:
    response = await app_client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "urn:examengine:problem:not_found",
        "title": "Not Found",
        "status": 404,
        "code": "not_found",
        "detail": "Nothing was found here.",
        "detail_zh": "未找到所请求的内容。",
    }


async def test_a_wrong_method_is_405_with_the_allowed_methods(app_client: Client) -> None:
    response = await app_client.delete("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "GET" in response.headers["allow"]


async def test_invalid_fields_are_a_422_listing_each_field(app_client: Client) -> None:
    response = await app_client.post("/auth/login", json={"login": 5, "password": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [error["field"] for error in body["errors"]] == ["login"]
    assert body["errors"][0]["source"] == "body"
    assert "login" in body["detail"] and "login" in body["detail_zh"]


async def test_a_missing_field_is_named_in_the_422(app_client: Client) -> None:
    response = await app_client.post("/auth/login", json={"login": "13800138000"})
    assert response.status_code == 422
    assert "password" in response.json()["detail"]


async def test_malformed_json_is_a_400_problem(app_client: Client) -> None:
    response = await app_client.post(
        "/auth/login", content=b"{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


async def test_a_mapped_domain_exception_answers_with_its_status_and_words(
    app_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EXCEPTION_HANDLERS, SeatTaken, domain_handler(409))
    # The handlers are copied when the app is built: build one with the new mapping.
    app = create_app(app_client.app.state.settings, route_handlers=[domain_error])
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/probe/domain")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["detail"], body["detail_zh"]) == (
        "seat_taken",
        "The seat is taken.",
        "座位已被占用。",
    )


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    app_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="api.http.errors"):
        response = await app_client.get("/probe/crash", headers={"x-request-id": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "api.http.errors"]
    assert record.exc_info is not None
    assert json.loads(JsonFormatter().format(record))["request_id"] == "crash-1"


async def test_a_request_id_sent_by_the_caller_is_echoed(app_client: Client) -> None:
    response = await app_client.get("/health", headers={"X-Request-ID": "lb-7f3a"})
    assert response.headers["x-request-id"] == "lb-7f3a"


async def test_a_request_id_is_made_when_none_or_a_strange_one_is_sent(app_client: Client) -> None:
    first = await app_client.get("/health")
    odd = await app_client.get("/health", headers={"X-Request-ID": "a b\tc"})
    assert len(first.headers["x-request-id"]) == 32
    assert odd.headers["x-request-id"] not in {"a b\tc", first.headers["x-request-id"]}
    assert len(odd.headers["x-request-id"]) == 32


async def test_each_request_is_logged_as_one_json_line(
    app_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        await app_client.get("/no/such/page", headers={"x-request-id": "req-42"})
    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    entry: dict[str, Any] = json.loads(line)
    assert entry["method"] == "GET"
    assert entry["path"] == "/no/such/page"
    assert entry["status"] == 404
    assert entry["request_id"] == "req-42"
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00")


async def test_a_request_commits_its_writes_when_it_succeeds(app_client: Client) -> None:
    response = await app_client.post("/probe/bank")
    assert response.status_code == 201
    assert (await app_client.get("/probe/banks")).json() == ["probe"]


async def test_a_request_that_fails_rolls_its_writes_back(app_client: Client) -> None:
    response = await app_client.post("/probe/bank", params={"fail": "true"})
    assert response.status_code == 500
    assert (await app_client.get("/probe/banks")).json() == []


def test_settings_come_from_the_environment_when_none_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_environ: None
) -> None:
    monkeypatch.setenv("EXAMENGINE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("EXAMENGINE_PORT", "8123")
    app = create_app()
    assert app.state.settings.server.port == 8123


async def test_the_front_door_leads_to_the_sign_in_page(app_client) -> None:  # type: ignore[no-untyped-def]
    response = await app_client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/login"


async def test_the_quiet_paths_log_one_line_in_n_but_every_failure(
    app_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Probes and the study hot path are sampled (``access_log_sample``); a refused
    heartbeat is logged whole; any other path logs every request."""
    settings = app_settings.replace(
        server=msgspec.structs.replace(app_settings.server, access_log_sample=3)
    )
    migrate(settings.database.url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            for _ in range(7):
                assert (await client.get("/health")).status_code == 200
            refused = await client.post(
                "/api/study/heartbeat", json={"token": "x", "position_ms": 0, "playing": True}
            )
            assert refused.status_code == 401
            await client.get("/no/such/page")
            await client.get("/no/such/page")
    entries = [json.loads(JsonFormatter().format(r)) for r in caplog.records
               if r.name == ACCESS_LOGGER]  # fmt: skip
    health = [e for e in entries if e["path"] == "/health"]
    assert [e.get("sampled") for e in health] == [3, 3], "the 3rd and 6th of 7, each for 3"
    assert [e["status"] for e in entries if e["path"] == "/api/study/heartbeat"] == [401]
    assert len([e for e in entries if e["path"] == "/no/such/page"]) == 2


async def test_a_started_app_collects_cycles_in_rarer_bigger_batches(app_client: Client) -> None:
    """The collector's thresholds are raised at startup: with CPython's defaults a worker
    holding 10,000 study sockets paused for up to a second in full collections."""
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.isenabled(), "cycles are still collected"
