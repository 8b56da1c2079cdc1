"""The ``examengine`` command line: ``db upgrade``, ``user add``, ``user import``, ``serve``.

``main`` is a click group; other modules add theirs with ``main.add_command(bank)``.
Every failure ends as one line on stderr and exit code 2 (``--traceback`` shows the
Python traceback, for bug reports).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.cli.audit import audit
from api.cli.bank import bank
from api.cli.demo import demo
from api.cli.exam import exam, paper
from api.cli.loadtest import loadtest
from api.cli.plan import plan
from api.cli.support import unit_of_work
from api.http.metrics import multiprocess_dir
from api.services import accounts
from api.services.notify import Notice, load_notifier
from api.services.passwords import hash_password
from api.settings import Settings, SettingsError
from api.store.db import migrate
from api.store.tables import ROLES, User
from api.workers.sweeper import sweep
from examengine.clock import BEIJING
from examengine.ids import masked

EXIT_ERROR = 2


class CliError(click.ClickException):
    """A failure reported as one line on stderr with exit code 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"examengine: error: {self.format_message()}", err=True)


class Group(click.Group):
    """A group that turns any exception of a subcommand into a ``CliError``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.find_root().params.get("traceback"):
                raise
            raise CliError(_one_line(exc)) from exc


def _one_line(exc: Exception) -> str:
    if isinstance(exc, SQLAlchemyError):
        original = getattr(exc, "orig", None)
        message = str(original) if original is not None else str(exc)
        lines = message.strip().splitlines()
        return f"database: {lines[0] if lines else type(exc).__name__}"
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        raise CliError(f"settings: {exc}") from None


@click.group(cls=Group)
@click.option("--traceback", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="examengine")
def main(traceback: bool) -> None:
    """examengine: online exams and proctoring.

    Settings come from EXAMENGINE_* environment variables (see docs/operations.md).
    """


@main.group(cls=Group)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema (safe to run on every start)."""
    settings = _settings()
    migrate(settings.database.url, revision)
    shown = make_url(settings.database.url).render_as_string(hide_password=True)
    click.echo(f"database {shown} is at revision {revision}")


@main.group(cls=Group)
def user() -> None:
    """Accounts."""


@user.command("add")
@click.argument("login")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
    help="A role (repeat for several).",
)  # fmt: skip
@click.option("--name", "display_name", default="", help="Display name (default: the login).")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True,
    help="Initial password (prompted when omitted).",
)  # fmt: skip
@click.option(
    "--must-change/--no-must-change", default=True, show_default=True,
    help="Force a password change at first login.",
)  # fmt: skip
@click.option("--employer", default=None,
              help="Employer (单位): an employer administrator's, or a learner's.")  # fmt: skip
def user_add(
    login: str, *, roles: tuple[str, ...], display_name: str, password: str,
    must_change: bool, employer: str | None,
) -> None:  # fmt: skip
    """Create the account LOGIN (resident ID or phone number)."""
    login = login.strip()
    if not login or len(login) > 64 or any(c.isspace() for c in login):
        raise CliError(f"login {login!r}: expected 1 to 64 characters without spaces")
    if len(password) < 8:
        raise CliError("password: at least 8 characters")
    if employer is not None and isinstance(
        problem := accounts.check_employer(employer), accounts.FieldProblem
    ):
        raise CliError(f"employer: {problem.message} / {problem.message_zh}")
    settings = _settings()
    now = datetime.now(UTC)
    try:
        with unit_of_work(settings) as session:
            user = User(
                login=login,
                display_name=display_name or login,
                password_hash=hash_password(password),
                roles=sorted(set(roles)),
                must_change_password=must_change,
                created_at=now,
            )
            session.add(user)
            accounts.employ_new(
                session, [(user, employer)], now_ms=int(now.timestamp() * 1000), actor_id=None
            )
    except IntegrityError:
        raise CliError(f"user {login!r} already exists") from None
    click.echo(f"added user {login} ({', '.join(sorted(set(roles)))})"
               + (f" of {user.employer}" if user.employer else ""))  # fmt: skip


@user.command("import")
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--employer", default=None, help="Employer (单位) of every account created.")
@click.option(
    "--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where to write the lines that made no account (default ROSTER.errors.xlsx/.csv).",
)  # fmt: skip
@click.option("--warnings-block", is_flag=True,
              help="A line with a warning (a gender the ID number contradicts, a lower-case "
                   "x) makes no account.")  # fmt: skip
@click.option("--all-or-nothing", is_flag=True,
              help="Make no account at all when any line fails.")  # fmt: skip
@click.option(
    "--links", "links_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the new accounts' activation links to this CSV (to hand on) instead of "
         "sending them through EXAMENGINE_NOTIFIER. It holds live links: keep it private.",
)  # fmt: skip
def user_import(
    roster: Path, *, employer: str | None, errors_path: Path | None, warnings_block: bool,
    all_or_nothing: bool, links_path: Path | None,
) -> None:  # fmt: skip
    """Create learner accounts from ROSTER (.xlsx or CSV: 姓名, 身份证号, 手机号, 性别, 备注;
    title lines above the header are fine).

    Valid lines become accounts (login = ID number), each with an activation link to
    choose its password, sent through EXAMENGINE_NOTIFIER (or written to --links); the
    others are listed and written to an error file in the roster's own layout. Exits 1
    when some lines failed, 0 otherwise.
    """
    started = time.monotonic()
    click.echo(f"reading {roster.name} …")
    parsed = accounts.read_roster(roster.read_bytes(), source=roster.name)
    click.echo(f"read {len(parsed.rows):,} lines in {time.monotonic() - started:.1f} s; "
               "checking and importing …")  # fmt: skip
    settings = _settings()
    links = accounts.links_for(settings, "activation")
    with unit_of_work(settings) as session:
        report, notices = accounts.import_roster(
            session, parsed, now=datetime.now(UTC), links=links, employer=employer,
            warnings_block=warnings_block, all_or_nothing=all_or_nothing,
        )  # fmt: skip
    if links_path is not None:
        _write_links(links_path, notices)
        click.echo(f"{len(notices)} activation links written to {links_path}")
    else:
        load_notifier(settings).send(notices)
    click.echo(f"imported in {time.monotonic() - started:.1f} s in all")
    click.echo(f"{report.header_note_zh} ({report.header_note})")
    for line in sorted([*report.problems, *report.warned], key=lambda line: line.row):
        said = "; ".join(
            f"{zh} ({en})" for zh, en in ((line.reason_zh, line.reason),
                                          (line.warning_zh, line.warning)) if zh
        )  # fmt: skip
        click.echo(f"row {line.row}: {line.status}: {said}")
    click.echo(
        f"{report.lines} lines: {report.created} created ({len(report.warned)} with warnings), "
        f"{report.skipped} skipped (registered already), {report.failed} failed"
        + (f"; nothing created (all or nothing): {report.held_back} valid lines held back"
           if report.held_back else "")
    )  # fmt: skip
    if report.problems:
        target = errors_path or roster.with_name(f"{roster.stem}.errors.{parsed.format}")
        target.write_bytes(accounts.roster_error_file(parsed, report, fmt=parsed.format))
        click.echo(f"lines without an account written to {target}")
    if report.failed:
        raise SystemExit(1)


def _write_links(path: Path, notices: Sequence[Notice]) -> None:
    """The links as CSV (UTF-8 with a BOM, for Excel): who, their masked phone, the
    link and until when it works (Beijing time)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(
        ["账号 Login", "姓名 Name", "手机号 Mobile", "激活链接 Link", "有效期至 Valid until"]
    )
    for notice in notices:
        until = datetime.fromtimestamp(notice.expires_ms / 1000, BEIJING)
        writer.writerow([notice.login, notice.name, masked(notice.phone or ""), notice.link,
                         until.strftime("%Y-%m-%d %H:%M")])  # fmt: skip
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


@main.command()
@click.option("--host", default=None, help="Overrides EXAMENGINE_HOST.")
@click.option("--port", type=int, default=None, help="Overrides EXAMENGINE_PORT.")
@click.option("--workers", type=int, default=None, help="Overrides EXAMENGINE_WORKERS.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """Serve the API with uvicorn."""
    # Workers build their own Settings from the environment: pass overrides through it.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"EXAMENGINE_{name}"] = str(value)
    settings = _settings()
    workers = 1 if reload else settings.server.workers
    # Several workers write their metrics to one fresh directory, summed at each scrape.
    with multiprocess_dir(workers):
        _serve(settings, reload=reload)


def _serve(settings: Settings, *, reload: bool) -> None:
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        workers=None if reload else settings.server.workers,
        reload=reload,
        access_log=False,  # api.logging writes one JSON line per request
        log_level=settings.server.log_level.lower(),
        # Idle keep-alive connections outlive the pages' 5–15 s save and heartbeat
        # interval, so a client never reuses one the server is closing (uvicorn's 5 s
        # default raced them); SIGTERM drains requests in flight for a bounded time.
        timeout_keep_alive=settings.server.keep_alive_s,
        timeout_graceful_shutdown=settings.server.shutdown_timeout_s,
    )


main.add_command(audit)
main.add_command(bank)
main.add_command(demo)
main.add_command(exam)
main.add_command(loadtest)
main.add_command(paper)
main.add_command(plan)
main.add_command(sweep)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
