"""Roster import: a 10,000-line employer roster (.xlsx, the source platforms' template
with title lines above the header) read, checked and imported, on SQLite and PostgreSQL,
beside the floor under it, in one run.

    .venv/bin/python -m benchmarks.roster [--lines 10000] [--mode sqlite|postgres|both]
    .venv/bin/python -m benchmarks.roster --quick      # 200 lines, seconds (CI)

Each stage runs in a fresh process (peak RSS is the process's, read by ``resource``):

- **read**: ``accounts.read_roster`` (openpyxl, read-only) — the header found below the
  title lines; beside it the **baseline** ``openpyxl`` alone iterating the sheet's values
  (what any importer must pay to read the file at all).
- **import**: ``accounts.import_roster`` on a fresh database — every line checked, the
  registered ones looked up, the accounts, their events and their activation links
  inserted, then the commit; beside it the **baseline** of the same rows (account,
  event, link) inserted with SQLAlchemy Core ``executemany`` and no checks: the floor of
  writing those rows through the same driver.

No password is hashed: new accounts get activation links (docs/decisions/0023), which is
what makes "10,000 lines in seconds" possible (argon2 at ~20–45 ms a password would take
minutes). Nothing here is a test: it prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import secrets
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from api.services import accounts
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import AccountEvent, Activation, User
from benchmarks import common
from benchmarks.attempts import postgres_database
from examengine.ids import check_character

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LINKS = accounts.Links(origin="https://edu.example.cn", ttl_h=336)
TITLE = [["关于做好 2026 年度专业技术人员继续教育报名工作的通知"], ["请按下列格式填写"], [None]]
HEADER = ["序号", "姓名", "身份证号码", "手机号码", "性别", "备注"]


def resident_id(n: int) -> str:
    """The n-th of distinct valid ID numbers (born 1960–1999, Beijing Dongcheng)."""
    year, day, serial = 1960 + n % 40, n // 40 % 28 + 1, n // 1120 % 1000
    month = n // 1_120_000 % 12 + 1
    first17 = f"110101{year}{month:02d}{day:02d}{serial:03d}"
    return first17 + check_character(first17)


def roster(lines: int) -> bytes:
    """The template with ``lines`` people: a name, an ID, a phone, the gender the ID says."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in [*TITLE, HEADER]:
        sheet.append(row)
    for n in range(lines):
        rid = resident_id(n)
        gender = "男" if int(rid[16]) % 2 else "女"
        sheet.append([n + 1, "学员" + "甲乙丙丁戊己庚辛"[n % 8], rid, f"139{n:08d}", gender, ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the stages, each in a fresh process -------------------------------------------------------


def stage_read(data: bytes, url: str) -> None:
    accounts.read_roster(data, source="roster.xlsx", max_lines=None)


def stage_read_baseline(data: bytes, url: str) -> None:
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    for _ in book.worksheets[0].iter_rows(values_only=True):
        pass
    book.close()


def stage_import(data: bytes, url: str) -> None:
    parsed = accounts.read_roster(data, source="roster.xlsx", max_lines=None)
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with transaction(session_factory(engine)) as session:
            report, notices = accounts.import_roster(session, parsed, now=NOW, links=LINKS)
            assert report.created == len(parsed.rows) == len(notices), report.failed
    finally:
        engine.dispose()


def stage_import_baseline(data: bytes, url: str) -> None:
    parsed = accounts.read_roster(data, source="roster.xlsx", max_lines=None)
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with engine.begin() as connection:
            users = [
                {"login": str(r.values[2]), "display_name": str(r.values[1]),
                 "password_hash": accounts.NO_PASSWORD, "roles": ["learner"],
                 "must_change_password": False, "created_at": NOW,
                 "resident_id": str(r.values[2]), "phone": str(r.values[3]),
                 "session_generation": 0}
                for r in parsed.rows
            ]  # fmt: skip
            connection.execute(sa.insert(User), users)
            ids = connection.execute(sa.select(User.id)).scalars().all()  # type: ignore[call-overload]
            connection.execute(sa.insert(AccountEvent), [
                {"user_id": i, "actor_id": None, "kind": "imported", "detail": {},
                 "created_at": NOW} for i in ids
            ])  # fmt: skip
            connection.execute(sa.insert(Activation), [
                {"user_id": i, "purpose": "activation", "created_ms": 0, "expires_ms": 1,
                 "token_hash": hashlib.sha256(secrets.token_bytes(24)).hexdigest()}
                for i in ids
            ])  # fmt: skip
    finally:
        engine.dispose()


def fresh_database(stack: ExitStack, mode: str, root: Path, name: str) -> str:
    if mode == "sqlite":
        url = f"sqlite:///{root / f'{name}.db'}"
    else:
        url = stack.enter_context(postgres_database(common.postgres_url()))
    migrate(url)
    return url


def rows_for(mode: str, data: bytes, lines: int, root: Path) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    with ExitStack() as stack:
        for label, stage, baseline, needs_db in (
            ("read the file", stage_read, stage_read_baseline, False),
            ("check and import", stage_import, stage_import_baseline, True),
        ):
            ours_url = fresh_database(stack, mode, root, f"ours-{label[:4]}") if needs_db else ""
            base_url = fresh_database(stack, mode, root, f"base-{label[:4]}") if needs_db else ""
            ours, ours_mb = common.in_fresh_process(stage, data, ours_url)
            base, base_mb = common.in_fresh_process(baseline, data, base_url)
            rows.append((
                f"{label} ({mode})" if needs_db else label, f"{lines:,}",
                f"{ours:.2f}", f"{ours_mb:.0f}", f"{base:.2f}", f"{base_mb:.0f}",
                f"{ours / base:.1f}×", f"{lines / ours:,.0f}",
            ))  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.roster", __doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--mode", choices=("sqlite", "postgres", "both"), default="both")
    args: argparse.Namespace = common.parse(parser, argv, {"lines": 200})
    print(f"# benchmarks.roster — {common.load()}; python {sys.version.split()[0]}")
    data = roster(args.lines)
    modes = ("sqlite", "postgres") if args.mode == "both" else (args.mode,)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as scratch:
        read_done = False
        for mode in modes:
            try:
                found = rows_for(mode, data, args.lines, Path(scratch))
            except OSError as exc:  # PostgreSQL unreachable
                common.not_measured(f"the roster import on {mode}", exc, "start PostgreSQL")
                continue
            rows += found[1:] if read_done else found
            read_done = True
    common.table(
        f"Roster import: {args.lines:,} lines (.xlsx, title lines above the header), one "
        "fresh process per stage",
        ("stage", "lines", "ours s", "ours peak RSS MiB", "baseline s", "baseline peak RSS MiB",
         "ours / baseline", "lines/s (ours)"),
        rows,
    )  # fmt: skip
    print(f"- {common.load()} at the end")


if __name__ == "__main__":
    main()
