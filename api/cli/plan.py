"""``examengine plan …``: import a training plan from a file (its courses, chapters and
anti-idle policy) and enroll learners in it.

Bad input ends with one clear message naming the file and field (or the learner) and a
non-zero exit status, never a traceback: 2 when a file cannot be read or a name is
unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
from sqlmodel import col, select

from api.cli.support import LANGS, fail, now, unit_of_work
from api.services import codes, study
from api.services.accounts import AccountError
from api.store.tables import User
from examengine.credit import StudyError


def _message(error: StudyError, lang: str) -> str:
    return error.message_zh if lang == "zh" else error.message


@click.group("plan")
def plan() -> None:
    """Training plans: import, enroll."""


@plan.command("import")
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def import_(plan_file: Path, lang: str) -> None:
    """Store PLAN (YAML or JSON: key, title, year, category, required_hours,
    elective_hours, courses with chapters, and optionally exam, restudy and challenge —
    the plan's own anti-idle policy). A plan with the same key is updated in place."""
    fmt: Literal["json", "yaml"] = "json" if plan_file.suffix.lower() == ".json" else "yaml"
    try:
        data = plan_file.read_bytes()
    except OSError as exc:
        fail(f"{plan_file}: {exc.strerror}")
    try:
        decoded = study.decode_plan(data, source=str(plan_file), fmt=fmt)
        with unit_of_work() as session:
            study.save_plan(session, decoded, now=int(now().timestamp() * 1000))
    except StudyError as error:
        fail(_message(error, lang))
    policy = "the service's default policy" if decoded.challenge is None else "its own policy"
    click.echo(f"plan {decoded.key}: {len(decoded.courses)} courses, {policy}")


@plan.command("enroll")
@click.option("--plan", "key", required=True, help="The plan's key.")
@click.argument("logins", nargs=-1, required=True)
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def enroll(key: str, logins: tuple[str, ...], lang: str) -> None:
    """Enroll the learners with LOGINS (ID numbers or phone numbers) in the plan (and in
    the exam it unlocks). All or nothing: an unknown login stops it."""
    with unit_of_work() as session:
        users = session.exec(select(User).where(col(User.login).in_(logins))).all()
        known = {u.login: u for u in users}
        unknown = [login for login in logins if login not in known]
        if unknown:
            fail(f"no such learner: {', '.join(unknown)}")
        try:
            for login in logins:
                learner = known[login].id
                assert learner is not None
                study.enroll(
                    session, learner_id=learner, plan=key, now=int(now().timestamp() * 1000)
                )
        except StudyError as error:
            fail(_message(error, lang))
    click.echo(f"plan {key}: {len(logins)} learners enrolled")


@plan.command("codes")
@click.option("--plan", "key", required=True, help="The plan's key.")
@click.option("--count", type=click.IntRange(1, codes.MAX_BATCH), required=True,
              help=f"Codes in the batch (at most {codes.MAX_BATCH:,}).")  # fmt: skip
@click.option("--employer", default=None, help="Only this employer's learners may redeem them.")
@click.option("--days", type=click.IntRange(1, 3 * 366), default=366, help="Days they stay valid.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The workbook to write: the only place the codes show.")  # fmt: skip
@click.option("--lang", type=LANGS, default="en", help="Language of the messages.")
def codes_(*, key: str, count: int, employer: str | None, days: int, out: Path, lang: str) -> None:
    """Issue a batch of activation codes for the plan (an employer's bank transfer): the
    serials and codes go to the workbook OUT; each code enrolls one learner, once."""
    try:
        with unit_of_work() as session:
            batch = codes.issue(
                session, plan=key, count=count, employer=employer, days=days, actor_id=None,
                now=int(now().timestamp() * 1000),
            )  # fmt: skip
            out.write_bytes(codes.batch_xlsx(batch))
    except AccountError as error:
        fail(error.message_zh if lang == "zh" else error.message)
    click.echo(f"batch {batch.batch}: {count} codes for {key} written to {out}")
