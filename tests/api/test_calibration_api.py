"""Calibrations over HTTP and on the command line (decision 0039): an author calibrates a
bank from its stored responses and reads the numbered records back; bad input is a 4xx
problem naming the field in English and Chinese; DIF answers counts per group, never a
learner; ``examengine bank calibrate`` prints a table and ``bank calibrations`` the list;
the minimum of responses is the ``EXAMENGINE_CALIBRATION_MIN_RESPONSES`` setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.cli.demo import DEMO_BANK, DEMO_COHORT, DEMO_DIR
from api.cli.main import main
from api.http.errors import PROBLEM_JSON
from api.settings import ExamSettings, Settings
from api.store.db import standalone_transaction
from api.store.tables import BankVersion, ItemResponse
from itembank.calibration import DEFAULT_MIN_RESPONSES

Client = AsyncTestClient[Litestar]
AUTHOR = "13800000001"
BANK = "校准"
#: The least responses the app under test asks of an item (``EXAMENGINE_…``).
MIN_RESPONSES = 25


def bank_yaml() -> bytes:
    lines = ["format: examengine-bank", "items:"]
    for j in range(6):
        lines += [
            f"  - {{key: c-{j}, kind: single, stem: 第 {j} 题, difficulty: {{band: {j % 5 + 1}}},",
            "     options: [{text: 甲, correct: true}, {text: 乙}]}",
        ]
    return "\n".join(lines).encode()


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    return settings_sqlite.replace(exam=ExamSettings(calibration_min_responses=MIN_RESPONSES))


@pytest.fixture
async def author(
    app_client: Client, app_settings: Settings, add_user: Callable[..., None]
) -> Client:
    """An author signed in, with bank ``校准`` (6 items, published) answered by 40 learners."""
    add_user(AUTHOR, "author")
    response = await app_client.post(
        "/auth/login", json={"login": AUTHOR, "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    await app_client.get("/auth/me")
    app_client.headers["x-csrftoken"] = app_client.cookies["csrftoken"]
    imported = await app_client.post(
        f"/api/banks/{BANK}/import",
        files={"file": ("c.yaml", bank_yaml())},
        data={"publish": "true"},
    )
    assert imported.status_code == 201, imported.text
    rng = np.random.default_rng(7)
    with standalone_transaction(app_settings.database) as db:
        version_id = db.exec(select(BankVersion.id)).one()
        assert version_id is not None
        for learner in range(40):
            theta = rng.normal()
            for j in range(6):
                right = rng.random() < 1 / (1 + np.exp(-(theta - (j - 2.5) / 2)))
                db.add(
                    ItemResponse(
                        bank_version_id=version_id, item_key=f"c-{j}", learner_ref=f"L{learner}",
                        response="A" if right else "B", score=float(right), max_score=1.0,
                    )
                )  # fmt: skip
    return app_client


async def test_an_author_calibrates_a_bank_and_reads_the_numbered_records(author: Client) -> None:
    made = await author.post(f"/api/banks/{BANK}/calibrations", json={"model": "rasch"})
    assert made.status_code == 201, made.text
    first = made.json()
    assert (first["number"], first["bank"], first["bank_version"]) == (1, BANK, 1)
    assert (first["model"], first["learners"], first["min_responses"]) == ("rasch", 40, 25)
    assert [item["key"] for item in first["items"]] == [f"c-{j}" for j in range(6)]
    assert not any(item["provisional"] for item in first["items"])
    assert first["items"][0]["b"] < first["items"][5]["b"]
    second = await author.post(f"/api/banks/{BANK}/calibrations", json={})
    assert second.status_code == 201
    assert (second.json()["number"], second.json()["model"]) == (2, "2pl")
    assert second.json()["link"]["previous"] == 1
    listed = (await author.get(f"/api/banks/{BANK}/calibrations")).json()
    assert [(c["number"], c["items"], c["provisional"]) for c in listed] == [(2, 6, 0), (1, 6, 0)]
    again = await author.get(f"/api/banks/{BANK}/calibrations/1")
    assert again.status_code == 200 and again.json() == first


async def test_dif_answers_counts_per_group_and_judges_no_small_group(author: Client) -> None:
    await author.post(f"/api/banks/{BANK}/calibrations", json={})
    # the stored responses here name no attempt, so no learner has a group
    dif = await author.get(
        f"/api/banks/{BANK}/calibrations/1/dif", params={"group": "gender", "focal": "female"}
    )
    assert dif.status_code == 200, dif.text
    report = dif.json()
    assert (report["focal_learners"], report["reference_learners"]) == (0, 0)
    assert [item["ets"] for item in report["items"]] == [None] * 6
    groups = await author.get(
        f"/api/banks/{BANK}/calibrations/1/groups", params={"group": "employer"}
    )
    assert groups.status_code == 200 and groups.json() == []


P = f"/api/banks/{BANK}/calibrations"
INVALID = "validation_failed"
REFUSED = "calibration_request_invalid"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("POST", P, {"model": "3pl"}, 422, INVALID, "model"),
        ("POST", P, {"version": 0}, 422, INVALID, "version"),
        ("POST", P, {"modle": "2pl"}, 422, INVALID, "modle"),
        ("POST", P, {"version": 9}, 404, "bank_not_found", "第 9 版"),
        ("POST", "/api/banks/无此题库/calibrations", {}, 404, "bank_not_found", "无此题库"),
        ("GET", f"{P}/7", None, 404, "calibration_not_found", "第 7 次校准"),
        ("GET", f"{P}/0", None, 422, INVALID, "calibration"),
        ("GET", f"{P}/1/dif?group=religion&focal=x", None, 422, INVALID, "group"),
        ("GET", f"{P}/1/dif?group=gender", None, 422, REFUSED, "focal"),
        ("GET", f"{P}/1/dif?group=gender&focal=other", None, 422, REFUSED, "focal"),
        ("GET", f"{P}/1/dif?group=gender&focal=male&reference=male", None, 422, REFUSED, "ref"),
        ("GET", f"{P}/1/groups?group=age", None, 422, INVALID, "group"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_4xx_naming_the_field_in_both_languages(
    author: Client,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    code: str,
    field: str,
) -> None:
    await author.post(f"/api/banks/{BANK}/calibrations", json={})
    response = await author.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["code"] == code
    named = [problem["detail"], problem["detail_zh"], *map(str, problem.get("errors", []))]
    assert any(field in text for text in named), problem
    assert problem["detail_zh"] != problem["detail"]


async def test_learners_may_not_calibrate(
    app_client: Client, add_user: Callable[..., None]
) -> None:
    add_user("11010519491231002X", "learner")
    await app_client.post(
        "/auth/login", json={"login": "11010519491231002X", "password": "correct horse"}
    )
    assert (await app_client.get(f"/api/banks/{BANK}/calibrations")).status_code == 403


# ---------------------------------------------------------------------- the setting


def test_the_minimum_of_responses_is_a_setting_defaulting_to_the_cores(tmp_path: Path) -> None:
    environ = {"EXAMENGINE_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(environ).exam.calibration_min_responses == DEFAULT_MIN_RESPONSES
    chosen = Settings.from_env({**environ, "EXAMENGINE_CALIBRATION_MIN_RESPONSES": "50"})
    assert chosen.exam.calibration_min_responses == 50
    with pytest.raises(ValueError, match="EXAMENGINE_CALIBRATION_MIN_RESPONSES"):
        Settings.from_env({**environ, "EXAMENGINE_CALIBRATION_MIN_RESPONSES": "0"})


# -------------------------------------------------------------------- command line


@pytest.fixture
def demo_env(migrated_cli_env: dict[str, str]) -> dict[str, str]:
    loaded = CliRunner().invoke(main, ["demo", "load"], env=migrated_cli_env)
    assert loaded.exit_code == 0, loaded.output
    assert f"calibration 1 (2pl): fitted to {DEMO_COHORT} simulated learners" in loaded.stdout
    return migrated_cli_env


def test_the_demo_bank_has_a_calibration_of_a_simulated_cohort_listed_by_the_cli(
    demo_env: dict[str, str],
) -> None:
    listed = CliRunner().invoke(main, ["bank", "calibrations", DEMO_BANK], env=demo_env)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if line.startswith("│ 1 "))
    assert "2pl" in row and str(DEMO_COHORT) in row and "none" in row
    # loading again changes nothing
    again = CliRunner().invoke(main, ["demo", "load"], env=demo_env)
    assert "calibration" not in again.stdout


def test_calibrate_prints_the_items_the_link_misfits_and_drift(demo_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main,
        ["bank", "calibrate", DEMO_BANK, "--version", "1", "--model", "rasch"],
        env={**demo_env, "EXAMENGINE_CALIBRATION_MIN_RESPONSES": "30"},
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{DEMO_BANK} calibration 2 (v1, rasch)" in out
    assert "│ law-001 │ 0 " in out and "provisional" in out and "few_responses" in out
    # no responses stored: the 27 items the demo's calibration fitted keep its parameters,
    # the 4 it could not fit stay provisional
    assert "provisional 4 (fewer than 30 responses)" in out and "carried 27 " in out
    assert "│ law-001 │ 0 " in out and "carried" in out.split("│ law-001 │", 1)[1].split("\n")[0]
    assert "link: none" in out and "misfitting (0): none" in out and "drifted (0): none" in out
    assert "note: " in out
    listed = CliRunner().invoke(main, ["bank", "calibrations", DEMO_BANK], env=demo_env)
    assert [line.split("│")[1].strip() for line in listed.stdout.splitlines()
            if line.startswith("│")] == ["2", "1"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bank", "calibrate", "无此题库"], "there is no bank '无此题库'"),
        (["bank", "calibrate", DEMO_BANK, "--version", "5"], "has no version 5"),
        (["bank", "calibrate", DEMO_BANK, "--model", "3pl"], "'3pl' is not one of"),
        (["bank", "calibrations", "无此题库"], "there is no bank '无此题库'"),
    ],
)
def test_calibrate_refuses_bad_input_in_one_line(
    demo_env: dict[str, str], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, args, env=demo_env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_an_equated_exam_on_the_demo_calibration_and_its_audit_on_the_command_line(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    spec = (DEMO_DIR / "exam.yaml").read_text(encoding="utf-8")
    spec = spec.replace("key: 公需科目-演示考试", "key: 等值演示").replace(
        "pass_mark: 0.6", "pass_mark: 0.6\ncalibration: 1\npass_standard: equated"
    )
    (tmp_path / "equated.yaml").write_text(spec, encoding="utf-8")
    published = CliRunner().invoke(
        main, ["exam", "publish", str(tmp_path / "equated.yaml")], env=demo_env
    )
    assert published.exit_code == 0, published.output
    built = CliRunner().invoke(
        main, ["paper", "build", "--exam", "等值演示", "--learner", "T-1"], env=demo_env
    )
    assert built.exit_code == 0, built.output
    shown = CliRunner().invoke(
        main,
        ["paper", "show", "--exam", "等值演示", "--learner", "T-1", "--attempt", "1"],
        env=demo_env,
    )
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert "pass standard equated, calibration 1: θ_c " in out
    assert "where the expected paper (100 points) scores pass_mark 0.6 of it (60 points)" in out
    assert out.count(" P(θ_c) ") == 20
    assert "(rounded up to 0.01); the raw standard would ask 60" in out
    assert "identical to the stored paper" in out
    # a spec naming a calibration the bank lacks is refused, naming the field
    (tmp_path / "missing.yaml").write_text(
        spec.replace("calibration: 1", "calibration: 9"), encoding="utf-8"
    )
    refused = CliRunner().invoke(
        main, ["exam", "publish", str(tmp_path / "missing.yaml"), "--lang", "zh"], env=demo_env
    )
    assert refused.exit_code != 0
    assert "calibration" in refused.output and "没有第 9 次校准" in refused.output
