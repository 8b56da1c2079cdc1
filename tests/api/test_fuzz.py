"""Schemathesis over the whole OpenAPI description, as every role (decision 0016).

A real served app (tests/server.py: uvicorn, the demo data) is fuzzed through its own
``/schema/openapi.json`` anonymously and signed in as the demo learner, author, proctor
and operator, with the pinned schemathesis's deterministic generation and a fixed budget
of examples per operation. Every reply must be no server error, a documented status, of
a documented media type, and match its schema. Logging out would end the role's session
mid-run, so only the anonymous run calls it. The number of requests made is printed (it
is read from the server's own /metrics).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli.demo import DEMO_BANK, DEMO_EXAM, DEMO_LEARNER, DEMO_PLAN, add_load_learners
from api.store.db import standalone_transaction
from tests.server import served_app

#: Examples per operation and phase: each backend's run stays near a minute on 2 cores.
MAX_EXAMPLES = 4
SEED = 16
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
ROLES = {
    "anonymous": None,
    "learner": ("11010519491231002X", "learner-demo-1"),
    "author": ("13800000001", "author-demo-1"),
    "proctor": ("13800000002", "proctor-demo-1"),
    "operator": ("13800000003", "operator-demo-1"),
}


def sign_in(url: str, login: str, password: str) -> str:
    """The session cookie of a fresh login through the API."""
    request = urllib.request.Request(
        f"{url}/auth/login",
        data=json.dumps({"login": login, "password": password}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        cookie = reply.headers["set-cookie"]
    match = re.search(r"examengine_session=([^;]+)", cookie)
    assert match, cookie
    return f"examengine_session={match.group(1)}"


def requests_served(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("examengine_requests_total{")
    )


#: Real resources of the demo data, so that half of the generated paths reach one instead
#: of a 404: schemathesis draws a path parameter from its dictionary with probability ½.
#: ``fuzz-00001`` is a learner of its own, so that an operator's run resetting or
#: demoting the account it names ends none of the sessions the other roles fuzz with.
DICTIONARIES = {
    "bank": [DEMO_BANK],
    "key": [DEMO_EXAM, "law-001"],
    "version": [1],
    "login": ["fuzz-00001"],
    "learner": ["fuzz-00001", DEMO_LEARNER],
    "attempt": [1, 2],
    "attempt_id": [1, 2],
    "plan": [DEMO_PLAN],
    "chapter": ["demo-law-1", "demo-ethics-1"],
}


def config_file(folder: Path) -> Path:
    """A schemathesis.toml binding each path parameter to its dictionary."""
    lines = []
    for name, values in DICTIONARIES.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}"]
    lines.append("[parameters]")
    lines += [
        f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in DICTIONARIES
    ]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fuzz(url: str, role: str, report: Path, config: Path) -> subprocess.Popen[str]:
    """Schemathesis as ``role``, started (the roles run side by side: the server has the
    second core)."""
    account = ROLES[role]
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", f"{url}/schema/openapi.json",
        "--url", url, "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--generation-deterministic", "--no-shrink", "--workers", "1",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]  # fmt: skip
    if account is not None:
        command += ["--header", f"Cookie: {sign_in(url, *account)}"]
        command += ["--exclude-path", "/auth/logout"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=report.parent
    )


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_whole_api_fuzzed_as_every_role_answers_only_what_it_documents(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    with served_app(tmp_path, database_url=database_url) as server:
        with standalone_transaction(server.database) as session:
            add_load_learners(
                session, count=1, prefix="fuzz-", password="fuzz-learner-1", now=datetime.now(UTC)
            )
        before = requests_served(server.url)
        config = config_file(tmp_path)
        runs = {role: fuzz(server.url, role, tmp_path / f"{role}.ndjson", config) for role in ROLES}
        failures = {}
        for role, run in runs.items():
            output, _ = run.communicate(timeout=600)
            if run.returncode != 0:
                failures[role] = output[-6000:]
        made = requests_served(server.url) - before
        print(f"schemathesis on {backend}: {made} requests over {len(ROLES)} roles")
        assert failures == {}, "\n\n".join(f"== {r}\n{out}" for r, out in failures.items())
