"""What the exam page and the result page need from the attempts API (decision 0031):
flags kept with the attempt (another browser resuming shows them), a proctor's
extension carried by the next save or heartbeat reply, and a result that names the
exam, its pass mark and — only once the rules let the key out — each question as the
paper showed it beside the learner's answer and the key."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from examengine.clock import ManualClock
from tests.api import test_attempts as base
from tests.api.test_attempts import LEARNER as ME
from tests.api.test_attempts import MARK, PROCTOR, RIGHT, T0, WRONG, problem, saves, sign_in, start

Client = AsyncTestClient[Litestar]

# the attempts API's world (its bank, exam and users), on SQLite and PostgreSQL
app_settings = base.app_settings
clock = base.clock
world = base.world
client = base.client


async def test_flags_are_kept_with_the_attempt_and_a_new_browser_resuming_shows_them(
    client: Client, clock: ManualClock
) -> None:
    first = await sign_in(client, ME)
    paper = await start(client)
    url = f"/api/attempts/{paper['attempt']}"
    keys = [i["item"] for i in paper["items"]]
    assert paper["flags"] == []

    flagged = await client.put(f"{url}/flags", json={"items": [keys[3], keys[1]]})
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["flags"] == [keys[1], keys[3]]  # the paper's order
    again = await client.put(f"{url}/flags", json={"items": [keys[3], keys[1]]})
    assert again.json()["flags"] == [keys[1], keys[3]]  # a repeat changes nothing

    body = problem(await client.put(f"{url}/flags", json={"items": ["nope"]}), 422, "unknown_item")
    assert "items" in body["detail"] and "items" in body["detail_zh"]
    problem(await client.put(f"{url}/flags", json={"items": "x"}), 422, "validation_failed")
    problem(await client.put(f"{url}/flags", json={}), 422, "validation_failed")

    await sign_in(client, ME)  # another browser: a new login session takes the attempt
    resumed = await client.post(f"{url}/resume")
    assert resumed.status_code == 200 and resumed.json()["flags"] == [keys[1], keys[3]]
    assert (await client.put(f"{url}/flags", json={"items": [keys[1]]})).status_code == 200

    client.cookies.clear()
    client.cookies.update(first)  # the first browser no longer holds the attempt
    problem(await client.put(f"{url}/flags", json={"items": []}), 409, "device_moved")

    await sign_in(client, ME)
    await client.post(f"{url}/resume")
    paper_now = (await client.get(f"{url}/paper")).json()
    assert paper_now["flags"] == [keys[1]]
    await client.post(f"{url}/submit")
    problem(await client.put(f"{url}/flags", json={"items": []}), 409, "attempt_closed")


async def test_an_extension_reaches_the_page_with_the_next_save_or_heartbeat(
    client: Client, clock: ManualClock
) -> None:
    learner = await sign_in(client, ME)
    paper = await start(client)
    url = f"/api/attempts/{paper['attempt']}"
    assert paper["deadline_ms"] == T0 + 600_000

    await sign_in(client, PROCTOR)
    extended = await client.post(
        f"/api/operator/attempts/{paper['attempt']}/extend", json={"extra_s": 300, "reason": "断网"}
    )
    assert extended.status_code == 200, extended.text

    client.cookies.clear()
    client.cookies.update(learner)
    clock.advance(10_000)
    saved = (await client.post(f"{url}/answers", json=saves(paper, RIGHT))).json()
    assert (saved["deadline_ms"], saved["seconds_left"]) == (T0 + 900_000, 890)
    beat = (await client.post(f"{url}/heartbeat")).json()
    assert (beat["deadline_ms"], beat["server_ms"]) == (T0 + 900_000, T0 + 10_000)


async def test_the_result_names_the_exam_and_its_pass_mark_and_reviews_each_question(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, ME)
    paper = await start(client)
    url = f"/api/attempts/{paper['attempt']}"
    await client.post(f"{url}/answers", json=saves(paper, RIGHT))
    open_result = (await client.get(f"{url}/result")).json()
    assert open_result["items"] == [] and MARK not in str(open_result)
    assert (open_result["title"], open_result["pass_mark"]) == ("公需科目考试", 0.6)

    await client.post(f"{url}/submit")
    result = (await client.get(f"{url}/result")).json()
    assert result["title"] == "公需科目考试" and result["pass_mark"] == 0.6
    by_kind = {r["kind"]: r for r in result["items"]}
    assert sorted(by_kind) == sorted(RIGHT)
    single = by_kind["single"]
    shown = next(i for i in paper["items"] if i["kind"] == "single")
    assert single["stem"] == shown["stem"] and single["options"] == shown["options"]
    assert single["section_title"] == "single" and single["correct"] == ["A"]
    assert single["response"] == "A" and single["points"] == single["max_points"] == 10
    assert by_kind["matching"]["prompts"] == ["甲", "乙"]
    assert MARK in single["explanation"]


async def test_the_result_page_says_what_to_do_next_retry_then_study_again(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, ME)
    pages = []
    for _ in range(2):
        paper = await start(client)
        url = f"/api/attempts/{paper['attempt']}"
        await client.post(f"{url}/answers", json=saves(paper, WRONG))
        assert (await client.post(f"{url}/submit")).json()["passed"] is False
        page = await client.get(f"/learner/attempts/{paper['attempt']}/result")
        assert page.status_code == 200
        pages.append(page.text)
    first, second = pages
    assert 'data-next="retry"' in first and "您还有 1 次考试机会" in first
    assert 'id="attempts-left">1 次（共 2 次）' in first
    assert "公需科目考试" in first and "合格线" in first
    assert 'data-next="restudy"' in second and 'href="/learner/plans"' in second
    assert 'id="attempts-left">0 次（共 2 次）' in second
    english = await client.get(f"/learner/attempts/{paper['attempt']}/result?lang=en")
    assert "No attempts are left: study the course again" in english.text
