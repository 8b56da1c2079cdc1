"""Group purchase: an employer pastes 10,000 ID numbers for a priced plan; every line is
checked and the good ones become one order; then the operator confirms the bank transfer
and the 10,000 are enrolled in the plan and its exam — on SQLite and PostgreSQL, beside
the floor under each, in one run.

    .venv/bin/python -m benchmarks.group_purchase [--lines 10000] [--mode sqlite|postgres|both]
    .venv/bin/python -m benchmarks.group_purchase --quick      # 200 lines, seconds (CI)

The database holds the demo data and ``--lines`` learners of one employer (inserted
before the clock starts). Each stage runs in a fresh process on a fresh database (peak
RSS is the process's, read by ``resource``):

- **check and order**: ``orders.place_group`` on the pasted text — each line parsed and
  checked (ID number, account, this employer's, listed once, not bought, not on an
  order, not studying), the order and its lines written, the commit. **Baseline**: the
  same accounts looked up by ID number in the same chunks and the order and its lines
  inserted with SQLAlchemy Core, no checks: the floor of reading and writing those rows.
- **pay and enrol**: ``orders.confirm_payment`` of that order — each learner enrolled in
  the plan and in its exam. **Baseline**: the plan and exam enrolment rows inserted with
  Core ``executemany``.

Nothing here is a test: it prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from api.cli.demo import DEMO_PLAN, load_demo
from api.services import orders
from api.services.accounts import NO_PASSWORD
from api.services.employer import parse_logins
from api.services.payments import OFFLINE, load_providers
from api.settings import DatabaseSettings, Settings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Enrollment, OrderLine, PlanEnrollment, PurchaseOrder, User
from api.store.tables import Plan as PlanRow
from benchmarks import common
from benchmarks.attempts import postgres_database
from benchmarks.roster import resident_id

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
EMPLOYER = "基准单位"
PRICE_FEN = 3300


def prepare(url: str, lines: int) -> None:
    """The demo data, the demo plan priced, ``lines`` learners of ``EMPLOYER`` and its
    administrator."""
    migrate(url)
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with transaction(session_factory(engine)) as session:
            load_demo(session, now=NOW)
            plan = session.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
            plan.price_fen = PRICE_FEN
            session.add(plan)
            session.add(User(login="bench-admin", display_name="管理员", password_hash=NO_PASSWORD,
                             roles=["employer_admin"], employer=EMPLOYER))  # fmt: skip
        with engine.begin() as connection:
            connection.execute(sa.insert(User), [
                {"login": resident_id(n), "display_name": "学员", "password_hash": NO_PASSWORD,
                 "roles": ["learner"], "must_change_password": False, "created_at": NOW,
                 "resident_id": resident_id(n), "phone": None, "employer": EMPLOYER,
                 "session_generation": 0}
                for n in range(lines)
            ])  # fmt: skip
    finally:
        engine.dispose()


def pasted(lines: int) -> str:
    return "\n".join(resident_id(n) for n in range(lines))


def _admin(session: sa.orm.Session) -> int:
    found = session.execute(
        sa.select(col(User.id)).where(col(User.login) == "bench-admin")
    ).scalar_one()
    assert found is not None
    return found


# -- the stages, each in a fresh process -------------------------------------------------------


def stage_order(url: str, lines: int) -> None:
    engine = make_engine(DatabaseSettings(url=url))
    providers = load_providers(Settings.from_env({}))
    try:
        with transaction(session_factory(engine)) as session:
            placed = orders.place_group(
                session, employer=EMPLOYER, plan=DEMO_PLAN,
                logins=parse_logins(pasted(lines)), buyer_id=_admin(session),
                providers=providers, provider=OFFLINE, now=NOW_MS,
            )  # fmt: skip
            assert placed.order.learners == lines, placed.check.lines[:3]
    finally:
        engine.dispose()


def stage_order_baseline(url: str, lines: int) -> None:
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with engine.begin() as connection:
            ids: list[int | None] = []
            wanted = [resident_id(n) for n in range(lines)]
            for start in range(0, lines, 500):
                ids += (
                    connection.execute(
                        sa.select(col(User.id)).where(
                            col(User.resident_id).in_(wanted[start : start + 500])
                        )
                    )
                    .scalars()
                    .all()
                )
            plan = connection.execute(
                sa.select(col(PlanRow.id)).where(col(PlanRow.key) == DEMO_PLAN)
            ).scalar_one()
            order = connection.execute(
                sa.insert(PurchaseOrder)
                .values(
                    number="2026120700000001",
                    kind="group",
                    buyer_id=None,
                    employer=EMPLOYER,
                    plan_id=plan,
                    unit_fen=PRICE_FEN,
                    amount_fen=PRICE_FEN * len(ids),
                    state="pending",
                    provider=OFFLINE,
                    created_ms=NOW_MS,
                )
                .returning(col(PurchaseOrder.id))
            ).scalar_one()
            connection.execute(sa.insert(OrderLine), [
                {"order_id": order, "learner_id": i, "plan_id": plan, "amount_fen": PRICE_FEN,
                 "active": True} for i in ids
            ])  # fmt: skip
            assert len(ids) == lines
    finally:
        engine.dispose()


def stage_pay(url: str, lines: int) -> None:
    engine = make_engine(DatabaseSettings(url=url))
    providers = load_providers(Settings.from_env({}))
    try:
        with transaction(session_factory(engine)) as session:
            number = session.exec(select(PurchaseOrder.number)).one()
            paid = orders.confirm_payment(
                session, number=number, provider=OFFLINE, reference="BANK-1",
                amount_fen=PRICE_FEN * lines, actor_id=None, now=NOW_MS, providers=providers,
            )  # fmt: skip
            assert paid.state == "paid"
    finally:
        engine.dispose()


def stage_pay_baseline(url: str, lines: int) -> None:
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with engine.begin() as connection:
            plan, exam = connection.execute(
                sa.select(col(PlanRow.id), col(PlanRow.exam_key)).where(
                    col(PlanRow.key) == DEMO_PLAN
                )
            ).one()
            learners = connection.execute(sa.select(col(OrderLine.learner_id))).scalars().all()
            connection.execute(sa.insert(PlanEnrollment), [
                {"learner_id": i, "plan_id": plan, "cycle": 1, "created_at": NOW}
                for i in learners
            ])  # fmt: skip
            connection.execute(sa.insert(Enrollment), [
                {"learner_id": i, "exam_key": exam, "study_cycle": 1, "study_met": False,
                 "created_at": NOW} for i in learners
            ])  # fmt: skip
            assert len(learners) == lines
    finally:
        engine.dispose()


def database(stack: ExitStack, mode: str, root: Path, name: str, lines: int) -> str:
    if mode == "sqlite":
        url = f"sqlite:///{root / f'{name}.db'}"
    else:
        url = stack.enter_context(postgres_database(common.postgres_url()))
    prepare(url, lines)
    return url


def rows_for(mode: str, lines: int, root: Path) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    with ExitStack() as stack:
        ours_url = database(stack, mode, root, "ours", lines)
        base_url = database(stack, mode, root, "base", lines)
        for label, stage, baseline in (
            ("check and order", stage_order, stage_order_baseline),
            ("pay and enrol", stage_pay, stage_pay_baseline),
        ):
            ours, ours_mb = common.in_fresh_process(stage, ours_url, lines)
            base, base_mb = common.in_fresh_process(baseline, base_url, lines)
            rows.append((
                f"{label} ({mode})", f"{lines:,}", f"{ours:.2f}", f"{ours_mb:.0f}",
                f"{base:.2f}", f"{base_mb:.0f}", f"{ours / base:.1f}×", f"{lines / ours:,.0f}",
            ))  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.group_purchase", __doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--mode", choices=("sqlite", "postgres", "both"), default="both")
    args: argparse.Namespace = common.parse(parser, argv, {"lines": 200})
    print(f"# benchmarks.group_purchase — {common.load()}; python {sys.version.split()[0]}")
    modes = ("sqlite", "postgres") if args.mode == "both" else (args.mode,)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for mode in modes:
            try:
                rows += rows_for(mode, args.lines, Path(scratch))
            except OSError as exc:  # PostgreSQL unreachable
                common.not_measured(f"the group purchase on {mode}", exc, "start PostgreSQL")
    common.table(
        f"Group purchase: {args.lines:,} pasted ID numbers, one fresh process per stage",
        ("stage", "IDs", "ours s", "ours peak RSS MiB", "baseline s", "baseline peak RSS MiB",
         "ours / baseline", "IDs/s (ours)"),
        rows,
    )  # fmt: skip
    print(f"- {common.load()} at the end")


if __name__ == "__main__":
    main()
