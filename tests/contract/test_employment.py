"""Employers and who worked where, on each database (SQLite and PostgreSQL): the one
writer of an account's employer (``accounts.employment``), the registry it keeps, the
history it records, and the registry as operators see it (``services.employer``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from api.services import accounts
from api.services import employer as employers
from api.services.accounts import AccountInvalidError, AccountRefusedError, EmployerExistsError
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import AccountEvent, Employer, Employment, User
from examengine.ids import check_character

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
T0 = int(NOW.timestamp() * 1000)
DAY = 86_400_000
LINKS = accounts.Links(origin="https://edu.example.cn", ttl_h=336)
T = TypeVar("T")
Sessions = sessionmaker[Session]


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


MAN = resident_id("11010119900307123")
WOMAN = resident_id("11010119900307124")


@pytest.fixture
def sessions(db_url: str) -> Iterator[Sessions]:
    migrate(db_url)
    engine = make_engine(DatabaseSettings(url=db_url))
    yield session_factory(engine)
    engine.dispose()


def run(sessions: Sessions, fn: Callable[[Session], T]) -> T:
    with transaction(sessions) as session:
        return fn(session)


def register(sessions: Sessions, *, employer: str = "", **changes: Any) -> accounts.Account:
    fields = {"name": "张三", "resident_id": MAN, "phone": "13800138000",
              "password": "Study2026!", "employer": employer, **changes}  # fmt: skip
    data = accounts.Registration(**fields)
    return run(sessions, lambda s: accounts.register(s, data, now=NOW, hasher=str))


def add_staff(sessions: Sessions, login: str, *roles: str, employer: str | None = None) -> int:
    def add(session: Session) -> int:
        user = User(login=login, display_name=login, password_hash="x", roles=list(roles))
        session.add(user)
        accounts.employ_new(session, [(user, employer)], now_ms=T0, actor_id=None)
        assert user.id is not None
        return user.id

    return run(sessions, add)


def move(sessions: Sessions, user_id: int, name: str | None, at: int, actor: int | None = None
         ) -> bool:  # fmt: skip
    def work(session: Session) -> bool:
        user = session.get(User, user_id)
        assert user is not None
        return accounts.assign_employer(session, user, name, now_ms=at, actor_id=actor)

    return run(sessions, work)


def history(sessions: Sessions, user_id: int) -> list[tuple[str, int, int | None]]:
    spans = run(sessions, lambda s: accounts.employment_history(s, user_id))
    return [(span.employer, span.start_ms, span.end_ms) for span in spans]


def changes(sessions: Sessions, user_id: int) -> list[tuple[Any, Any]]:
    events = run(sessions, lambda s: s.exec(
        select(AccountEvent).where(AccountEvent.user_id == user_id,
                                   AccountEvent.kind == "employer_changed")
        .order_by(col(AccountEvent.id))).all())  # fmt: skip
    return [(e.detail["from"], e.detail["to"]) for e in events]


def stored(sessions: Sessions, user_id: int) -> str | None:
    user = run(sessions, lambda s: s.get(User, user_id))
    assert user is not None
    return user.employer


def registry(sessions: Sessions) -> list[str]:
    return run(sessions, lambda s: list(s.exec(select(Employer.name).order_by(Employer.name))))


def roster(text: str) -> accounts.Roster:
    return accounts.read_roster(text.encode("utf-8"), source="roster.csv")


# ----------------------------------------------------------------- history


def test_two_moves_keep_the_whole_history_and_say_who_was_where_when(sessions: Sessions) -> None:
    learner = register(sessions, employer="一中")
    operator = add_staff(sessions, "operator1", "operator")
    assert move(sessions, learner.id, "二中", T0 + 10 * DAY, operator)
    assert move(sessions, learner.id, "三中", T0 + 20 * DAY, operator)
    assert history(sessions, learner.id) == [
        ("一中", T0, T0 + 10 * DAY), ("二中", T0 + 10 * DAY, T0 + 20 * DAY),
        ("三中", T0 + 20 * DAY, None),
    ]  # fmt: skip
    assert stored(sessions, learner.id) == "三中"
    assert changes(sessions, learner.id) == [("一中", "二中"), ("二中", "三中")]
    at = lambda ms: run(sessions, lambda s: accounts.employer_at(s, learner.id, ms))  # noqa: E731
    assert at(T0 - 1) is None  # before the account had one
    assert (at(T0), at(T0 + 10 * DAY - 1), at(T0 + 10 * DAY)) == ("一中", "一中", "二中")
    assert (at(T0 + 15 * DAY), at(T0 + 20 * DAY), at(T0 + 900 * DAY)) == ("二中", "三中", "三中")
    rows = run(sessions, lambda s: s.exec(select(Employment).order_by(col(Employment.id))).all())
    assert [r.actor_id for r in rows if r.user_id == learner.id] == [None, operator, operator]
    assert registry(sessions) == sorted(["一中", "二中", "三中"])


def test_a_move_to_the_same_employer_changes_nothing_and_records_nothing(
    sessions: Sessions,
) -> None:
    learner = register(sessions, employer="一中")
    assert not move(sessions, learner.id, " 一中 ", T0 + DAY)
    assert history(sessions, learner.id) == [("一中", T0, None)]
    assert changes(sessions, learner.id) == []


def test_leaving_every_employer_closes_the_span_and_opens_none(sessions: Sessions) -> None:
    learner = register(sessions, employer="一中")
    assert move(sessions, learner.id, None, T0 + DAY)
    assert history(sessions, learner.id) == [("一中", T0, T0 + DAY)]
    assert (stored(sessions, learner.id), changes(sessions, learner.id)) == (None, [("一中", None)])
    assert run(sessions, lambda s: accounts.employer_at(s, learner.id, T0 + DAY)) is None
    assert move(sessions, learner.id, "二中", T0 + 2 * DAY)
    assert history(sessions, learner.id)[-1] == ("二中", T0 + 2 * DAY, None)


def test_two_moves_within_one_millisecond_leave_the_last_employer(sessions: Sessions) -> None:
    learner = register(sessions, employer="一中")
    move(sessions, learner.id, "二中", T0 + DAY)
    move(sessions, learner.id, "三中", T0 + DAY)
    assert run(sessions, lambda s: accounts.employer_at(s, learner.id, T0 + DAY)) == "三中"


def test_the_database_keeps_one_open_employment_per_account(sessions: Sessions) -> None:
    learner = register(sessions, employer="一中")

    def second_open_row(session: Session) -> None:
        employer_id = session.exec(select(Employer.id)).one()
        session.add(Employment(user_id=learner.id, employer_id=employer_id, start_ms=T0 + 1))

    with pytest.raises(IntegrityError):
        run(sessions, second_open_row)


def moved_at_once(sessions: Sessions, learner_id: int, names: tuple[str, str]) -> list[Any]:
    """Both moves, each on its own thread and unit of work, each having read the account
    before either writes; their results (or errors)."""
    barrier = threading.Barrier(len(names))
    results: list[Any] = [None] * len(names)

    def go(n: int, name: str) -> None:
        def work(session: Session) -> bool:
            user = session.get(User, learner_id)  # read before the other commits
            assert user is not None
            barrier.wait()
            return accounts.assign_employer(session, user, name, now_ms=T0 + DAY + n,
                                            actor_id=None)  # fmt: skip

        try:
            results[n] = run(sessions, work)
        except Exception as exc:  # shown by the caller's assertion
            results[n] = exc

    threads = [threading.Thread(target=go, args=(n, name)) for n, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_moves_of_one_account_at_once_take_turns(sessions: Sessions) -> None:
    """Two operators move one learner at the same moment, to two employers: the moves
    take turns (the account's lock), both are kept, and one employment stays open."""
    for round_ in range(4):
        learner = register(sessions, employer="一中",
                           resident_id=resident_id(f"110101199003{round_ + 10}123"),
                           phone=f"1380013800{round_}")  # fmt: skip
        results = moved_at_once(sessions, learner.id, ("二中", "三中"))
        assert results == [True, True], results
        spans = history(sessions, learner.id)
        assert [end for _, _, end in spans].count(None) == 1
        assert spans[0][0] == "一中" and {spans[1][0], spans[2][0]} == {"二中", "三中"}
        # Each saw the other's move: the log is one chain from 一中 to the last employer.
        log = changes(sessions, learner.id)
        assert log[0][0] == "一中" and log[0][1] == log[1][0] and log[1][1] == spans[-1][0]
        assert stored(sessions, learner.id) == spans[-1][0]
        # The second move closed the span the first one opened, never before it began
        # (each read the time before waiting for the other).
        assert spans[1][2] == spans[2][1] >= spans[1][1]


# -------------------------------------------------------------- names, registry


def test_names_are_normalised_and_invalid_ones_refused_in_both_languages(
    sessions: Sessions,
) -> None:
    learner = register(sessions, employer="  重庆市第一中学（本部）  ")
    assert stored(sessions, learner.id) == "重庆市第一中学(本部)"  # NFKC, trimmed
    for name, code in (("   ", "employer_required"), ("单" * 201, "employer_length"),
                       ("一中\n二中", "employer_one_line")):  # fmt: skip
        with pytest.raises(AccountInvalidError) as caught:
            move(sessions, learner.id, name, T0 + DAY)
        [problem] = caught.value.problems
        assert (problem.field, problem.code) == ("employer", code)
        assert caught.value.message.startswith("Please correct: employer: ")
        assert caught.value.message_zh.startswith("请更正：单位：")
    with pytest.raises(AccountInvalidError) as registering:
        register(sessions, employer="一\r中", resident_id=WOMAN, phone="13900139000")
    assert registering.value.problems[0].field == "employer"
    assert history(sessions, learner.id) == [("重庆市第一中学(本部)", T0, None)]


def test_a_name_registered_before_names_were_normalised_is_found_as_it_was_typed(
    sessions: Sessions,
) -> None:
    """Migration 0011 registered the names accounts carried as they were typed; the
    same spelling typed again finds that employer, not a second one."""

    def legacy(session: Session) -> None:
        session.add(Employer(name="一中（本部）"))

    run(sessions, legacy)
    learner = register(sessions, employer="一中（本部）")
    assert stored(sessions, learner.id) == "一中（本部）"
    assert registry(sessions) == ["一中（本部）"]


def test_registration_opens_the_employment_and_registers_the_employer(
    sessions: Sessions,
) -> None:
    learner = register(sessions, employer="一中")
    assert history(sessions, learner.id) == [("一中", T0, None)]
    assert registry(sessions) == ["一中"]
    # Its first employer is said by the employment row and the account's creation
    # event; ``employer_changed`` is for changes only.
    assert changes(sessions, learner.id) == []
    nobody = register(sessions, resident_id=WOMAN, phone="13900139000")
    assert (nobody.employer, history(sessions, nobody.id)) == (None, [])


def test_a_roster_registers_its_employers_once_and_opens_each_new_accounts_employment(
    sessions: Sessions,
) -> None:
    operator = add_staff(sessions, "operator1", "operator")
    ids = [resident_id(f"110101198001{n:02d}001") for n in range(1, 7)]
    text = "姓名,身份证号,单位\n" + "".join(
        f"学员,{rid},{'一中' if n % 2 else '二中（分校）'}\n" for n, rid in enumerate(ids)
    )
    report, _ = run(sessions, lambda s: accounts.import_roster(
        s, roster(text), now=NOW, links=LINKS, actor_id=operator))  # fmt: skip
    assert report.created == 6
    assert registry(sessions) == sorted(["一中", "二中(分校)"])
    rows = run(sessions, lambda s: s.exec(select(Employment, Employer.name).join(
        Employer, col(Employer.id) == col(Employment.employer_id))).all())  # fmt: skip
    assert len(rows) == 6
    assert {(r.start_ms, r.end_ms, r.actor_id) for r, _ in rows} == {(T0, None, operator)}
    users = run(sessions, lambda s: {u.id: u.employer for u in s.exec(select(User)).all()})
    assert all(users[r.user_id] == name for r, name in rows)
    # An administrator's roster: their employer overrides the column, and a bad 单位 in
    # a line is that line's error, in both languages.
    more = [resident_id(f"110101198002{n:02d}001") for n in range(1, 3)]
    text = f"姓名,身份证号,单位\n甲,{more[0]},别的单位\n乙,{more[1]},{'单' * 201}\n"
    report, _ = run(sessions, lambda s: accounts.import_roster(
        s, roster(text), now=NOW, links=LINKS, employer="一中"))  # fmt: skip
    assert (report.created, report.failed) == (1, 1)
    assert report.problems[0].errors[0].code == "employer_length"
    assert report.problems[0].reason_zh.startswith("单位：最多 200 个字")
    assert registry(sessions) == sorted(["一中", "二中(分校)"])


def test_employ_new_refuses_an_account_that_exists(sessions: Sessions) -> None:
    learner = register(sessions)

    def again(session: Session) -> None:
        user = session.get(User, learner.id)
        assert user is not None
        accounts.employ_new(session, [(user, "一中")], now_ms=T0, actor_id=None)

    with pytest.raises(AssertionError):
        run(sessions, again)


def test_operators_register_employers_with_a_checked_credit_code(sessions: Sessions) -> None:
    def register_employer(name: str, code: str | None = None, region: str | None = None
                          ) -> employers.EmployerEntry:  # fmt: skip
        return run(sessions, lambda s: employers.register_employer(
            s, name=name, credit_code=code, region=region, now_ms=T0))  # fmt: skip

    entry = register_employer("腾讯", " 9144030071526726xg ", "深圳市南山区")
    assert (entry.name, entry.credit_code, entry.region, entry.staff) == (
        "腾讯", "9144030071526726XG", "深圳市南山区", 0,
    )  # fmt: skip
    with pytest.raises(EmployerExistsError) as same_name:
        register_employer("腾讯")
    assert (same_name.value.field, same_name.value.message_zh) == ("name", "单位“腾讯”已登记。")
    with pytest.raises(EmployerExistsError) as same_code:
        register_employer("腾讯科技", "9144030071526726XG")
    assert same_code.value.field == "credit_code"
    with pytest.raises(AccountInvalidError) as bad:
        register_employer(" ", "9144030071526726XH", "区\n域")
    assert [(p.field, p.code) for p in bad.value.problems] == [
        ("name", "employer_required"), ("credit_code", "credit_code_checksum"),
        ("region", "region_invalid"),
    ]  # fmt: skip
    assert bad.value.message_zh.startswith("请更正：单位名称：单位名称不能为空；统一社会信用代码：")
    assert "employer's name: the employer's name is required" in bad.value.message


def test_the_registry_lists_employers_with_their_learners_now(sessions: Sessions) -> None:
    li = register(sessions, employer="一中")
    register(sessions, employer="一中", resident_id=WOMAN, phone="13900139000")
    add_staff(sessions, "admin1", "employer_admin", employer="一中")  # staff, not a learner
    run(sessions, lambda s: employers.register_employer(
        s, name="三中", credit_code=None, region="渝中区", now_ms=T0))  # fmt: skip
    move(sessions, li.id, "二中", T0 + DAY)
    page = run(sessions, employers.employers_named)
    assert [(e.name, e.staff) for e in page.employers] == sorted(
        [("一中", 1), ("二中", 1), ("三中", 0)]
    )
    assert page.total == 3
    found = run(sessions, lambda s: employers.employers_named(s, query="渝中"))
    assert [e.name for e in found.employers] == ["三中"]
    second = run(sessions, lambda s: employers.employers_named(s, page=2, page_size=2))
    assert (second.total, len(second.employers)) == (3, 1)


# ------------------------------------------------------------------ who may


def test_only_operators_move_people_and_administrators_read_their_own_staff_only(
    sessions: Sessions,
) -> None:
    learner = register(sessions, employer="一中")
    admin = add_staff(sessions, "admin1", "employer_admin", employer="一中")
    other = add_staff(sessions, "admin2", "employer_admin", employer="二中")
    operator = add_staff(sessions, "operator1", "operator")

    def move_as(actor: int, name: str | None) -> accounts.EmploymentRecord:
        return run(sessions, lambda s: accounts.move_to_employer(
            s, login=MAN, employer=name, actor_id=actor, now_ms=T0 + DAY))  # fmt: skip

    def read_as(actor: int) -> accounts.EmploymentRecord:
        return run(sessions, lambda s: accounts.employment_of(s, login=MAN, actor_id=actor))

    for actor, name in ((admin, "二中"), (admin, None), (other, "二中")):
        with pytest.raises(AccountRefusedError) as refused:
            move_as(actor, name)
        assert refused.value.code == "not_operator"
    assert read_as(admin).history == (accounts.EmploymentSpan(employer="一中", start_ms=T0,
                                                              end_ms=None),)  # fmt: skip
    with pytest.raises(accounts.AccountNotFoundError):
        read_as(other)
    record = move_as(operator, "二中")
    assert (record.login, record.employer) == (MAN[:6] + "*" * 8 + MAN[-4:], "二中")
    assert [s.employer for s in record.history] == ["一中", "二中"]
    # Now the other administrator's learner, and no longer the first one's.
    assert read_as(other).employer == "二中"
    with pytest.raises(accounts.AccountNotFoundError):
        read_as(admin)
    assert read_as(operator).employer == "二中"
    assert learner.id in {e.user_id for e in run(sessions, lambda s: s.exec(
        select(Employment).where(Employment.actor_id == operator)).all())}  # fmt: skip
