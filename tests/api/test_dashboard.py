"""The Grafana dashboard (deploy/grafana/dashboards) queries only metrics the app exports:
every ``examengine_*`` name in its queries is in a real scrape of /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
#: What a family of each type exposes (the text format's sample names).
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum", "")}


def queried(dashboard: dict[str, object]) -> set[str]:
    names = set()
    for panel in dashboard["panels"]:  # type: ignore[attr-defined]
        for target in panel["targets"]:
            names |= set(re.findall(r"\bexamengine_[a-z_]+\b", target["expr"]))
    return names


def exported(text: str) -> set[str]:
    """Every sample name /metrics can show, from its TYPE lines (also for a labelled
    metric that has not counted anything yet)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names |= {name + suffix for suffix in SUFFIXES.get(kind, ("",))}
    return names


async def test_every_metric_the_dashboard_queries_is_exported(
    app_client: AsyncTestClient[Litestar],
) -> None:
    await app_client.get("/health")  # the request metrics are made with the first request
    await app_client.post("/auth/login", json={"login": "nobody", "password": "x"})
    text = (await app_client.get("/metrics")).text
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert dashboards
    for path in dashboards:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        names = queried(dashboard)
        assert len(names) >= 9, f"{path.name}: the peak's metrics are not all there"
        missing = names - exported(text)
        assert not missing, f"{path.name} queries metrics /metrics does not export: {missing}"


def test_the_dashboard_shows_what_the_peak_needs() -> None:
    dashboard = json.loads((DASHBOARDS / "examengine-peak.json").read_text(encoding="utf-8"))
    names = queried(dashboard)
    assert {
        "examengine_requests_total",
        "examengine_request_duration_seconds_bucket",
        "examengine_requests_refused_total",
        "examengine_requests_running",
        "examengine_requests_waiting",
        "examengine_attempts_open",
        "examengine_sweeper_lag_seconds_bucket",
        "examengine_study_tick_seconds_bucket",
        "examengine_event_loop_lag_seconds",
    } <= names
    assert all(p["datasource"]["uid"] == "prometheus" for p in dashboard["panels"])
