"""The account service against each database (SQLite and PostgreSQL), and the login
lock against each store (memory, files, Redis): the same answers everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from api.services import accounts
from api.services.accounts import (
    AccountExistsError,
    AccountInvalidError,
    AccountLockedError,
    AccountNotFoundError,
    AccountRefusedError,
    LockPolicy,
    LoginLocks,
    Registration,
)
from api.services.notify import Notice
from api.settings import DatabaseSettings
from api.store.db import IN_CHUNK, make_engine, migrate, session_factory, transaction
from api.store.redis_client import connect
from api.store.tables import AccountEvent, User
from examengine.ids import check_character
from tests.conftest import redis_target_of

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LINKS = accounts.Links(origin="https://edu.example.cn", ttl_h=336)
RESET_LINKS = accounts.Links(origin="https://edu.example.cn", ttl_h=24)
T = TypeVar("T")


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


MAN = resident_id("11010119900307123")
WOMAN = resident_id("11010119900307124")
WITH_X = "11010119900301006X"


def fake_hash(password: str) -> str:
    """Hashing is the caller's: a cheap stand-in keeps big rosters fast here."""
    return "plain:" + password


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    migrate(db_url)
    engine = make_engine(DatabaseSettings(url=db_url))
    yield session_factory(engine)
    engine.dispose()


Sessions = sessionmaker[Session]


def run(sessions: Sessions, fn: Callable[[Session], T]) -> T:
    with transaction(sessions) as session:
        return fn(session)


def registration(**changes: Any) -> Registration:
    fields = {
        "name": "张三",
        "resident_id": MAN,
        "phone": "13800138000",
        "password": "Study2026!",
        "gender": "",
    }
    return Registration(**{**fields, **changes})


def register(sessions: Sessions, **changes: Any) -> accounts.Account:
    return run(
        sessions,
        lambda s: accounts.register(s, registration(**changes), now=NOW, hasher=fake_hash),
    )


def add_staff(sessions: Sessions, login: str, *roles: str, employer: str | None = None) -> int:
    def add(session: Session) -> int:
        user = User(login=login, display_name=login, password_hash="x", roles=list(roles),
                    employer=employer)  # fmt: skip
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id

    return run(sessions, add)


def roster(text: str, source: str = "roster.csv") -> accounts.Roster:
    return accounts.read_roster(text.encode("utf-8"), source=source)


# ------------------------------------------------------------------------- accounts


def test_a_registration_round_trips_every_field(sessions: Sessions) -> None:
    created = register(sessions, resident_id=WITH_X.lower(), employer=" 一中 ", district="渝中区")
    assert (created.login, created.resident_id, created.gender) == (WITH_X, WITH_X, "female")
    assert (created.employer, created.district, created.created_at) == ("一中", "渝中区", NOW)
    user = run(sessions, lambda s: s.get(User, created.id))
    assert user is not None and user.password_hash == "plain:Study2026!"
    events = run(sessions, lambda s: s.exec(select(AccountEvent)).all())
    assert [(e.kind, e.user_id, e.actor_id) for e in events] == [
        ("registered", created.id, created.id)
    ]


@pytest.mark.parametrize(
    "typed", [MAN, f" {MAN} ", "13800138000", "+86 138-0013-8000", "008613800138000"]
)
def test_an_account_is_found_by_its_id_number_or_phone_in_any_usual_form(
    sessions: Sessions, typed: str
) -> None:
    created = register(sessions)
    found = run(sessions, lambda s: accounts.find_account(s, typed))
    assert found is not None and found.id == created.id


def test_a_lower_case_x_finds_the_id_number(sessions: Sessions) -> None:
    created = register(sessions, resident_id=WITH_X)
    found = run(sessions, lambda s: accounts.find_account(s, WITH_X.lower()))
    assert found is not None and found.id == created.id


def test_a_staff_login_is_found_as_it_is_and_nothing_else_is(sessions: Sessions) -> None:
    add_staff(sessions, "operator1", "operator")
    assert run(sessions, lambda s: accounts.find_account(s, "operator1")) is not None
    assert run(sessions, lambda s: accounts.find_account(s, "nobody")) is None
    assert run(sessions, lambda s: accounts.find_account(s, WOMAN)) is None


def test_a_second_registration_of_a_person_or_a_phone_is_refused(sessions: Sessions) -> None:
    register(sessions)
    with pytest.raises(AccountExistsError) as same_id:
        register(sessions, phone="13900139000")
    assert same_id.value.field == "resident_id"
    with pytest.raises(AccountExistsError) as same_phone:
        register(sessions, resident_id=WOMAN)
    assert same_phone.value.field == "phone"
    add_staff(sessions, "13700137000", "author")  # a staff login that is a phone number
    with pytest.raises(AccountExistsError):
        register(sessions, resident_id=WOMAN, phone="13700137000")


def test_the_database_itself_keeps_id_numbers_and_phones_unique(sessions: Sessions) -> None:
    register(sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.add(User(login="other", display_name="x", password_hash="x", resident_id=MAN))
    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.add(User(login="other", display_name="x", password_hash="x", phone="13800138000"))
    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.add(User(login="other", display_name="x", password_hash="x", gender="other"))
    # Staff accounts have neither: many NULLs are fine.
    add_staff(sessions, "a", "author")
    add_staff(sessions, "b", "author")


def test_an_invalid_registration_names_every_field_and_stores_nothing(sessions: Sessions) -> None:
    with pytest.raises(AccountInvalidError) as caught:
        register(sessions, name="张三!", resident_id=MAN[:17] + "0", phone="12345678901")
    assert [(p.field, p.code) for p in caught.value.problems] == [
        ("name", "name_symbols"), ("resident_id", "id_checksum"), ("phone", "mobile"),
    ]  # fmt: skip
    assert caught.value.message_zh.startswith("请更正：姓名：")
    assert run(sessions, lambda s: s.exec(select(User)).all()) == []


# --------------------------------------------------------------------------- roster


def test_a_roster_creates_valid_lines_skips_registered_people_and_reports_the_rest(
    sessions: Sessions,
) -> None:
    register(sessions)
    text = (
        "序号,姓名*,身份证号码,手机号码,性别,备注\n"
        f"1,李四,{WOMAN},13900139000,女,组长\n"
        f"2,张三,{MAN},,,\n"
        f"3,王五,{WITH_X.lower()},13800138000,,\n"
        f"4,赵六,{resident_id('11010119850101002')},139 0013 9000,,\n"
        "5,钱七,123,,,\n"
    )
    operator = add_staff(sessions, "operator1", "operator")
    report, notices = run(
        sessions,
        lambda s: accounts.import_roster(s, roster(text), now=NOW, links=LINKS, actor_id=operator),
    )
    assert (report.lines, report.created, report.skipped, report.failed) == (5, 1, 1, 3)
    assert [(p.row, p.status, p.errors[0].code if p.errors else "") for p in report.problems] == [
        (3, "skipped", ""), (4, "failed", "phone_taken"), (5, "failed", "phone_repeated"),
        (6, "failed", "id_length"),
    ]  # fmt: skip
    user = run(sessions, lambda s: accounts.find_account(s, WOMAN))
    assert user is not None
    assert (user.login, user.display_name, user.phone, user.gender, user.remark) == (
        WOMAN, "李四", "13900139000", "female", "组长",
    )  # fmt: skip
    # No password until the holder follows the link sent to them.
    assert (user.must_change_password, user.password_hash) == (False, accounts.NO_PASSWORD)
    [notice] = notices
    assert (notice.kind, notice.login, notice.phone) == ("activation", WOMAN, "13900139000")
    assert notice.link.startswith("https://edu.example.cn/activate#")
    assert notice.expires_ms == int(NOW.timestamp() * 1000) + 336 * 3_600_000
    event = run(sessions, lambda s: s.exec(select(AccountEvent).where(
        AccountEvent.kind == "imported")).one())  # fmt: skip
    assert (event.user_id, event.actor_id, event.detail) == (
        user.id, operator, {"source": "roster.csv", "row": 2},
    )  # fmt: skip


def test_a_roster_larger_than_one_query_batch_is_checked_against_every_account(
    sessions: Sessions,
) -> None:
    count = IN_CHUNK + 50
    ids = [resident_id(f"1101011980{n % 12 + 1:02d}{n // 12 % 28 + 1:02d}{n:03d}")
           for n in range(count)]  # fmt: skip
    assert len(set(ids)) == count
    lines = "".join(f"学员,{rid},1{n + 3500000000:010d}\n" for n, rid in enumerate(ids))
    first, notices = run(sessions, lambda s: accounts.import_roster(
        s, roster("姓名,身份证号,手机号\n" + lines), now=NOW, links=LINKS))  # fmt: skip
    assert (first.created, first.failed, len({n.link for n in notices})) == (count, 0, count)
    again, _ = run(sessions, lambda s: accounts.import_roster(
        s, roster("姓名,身份证号,手机号\n" + lines), now=NOW, links=LINKS))  # fmt: skip
    assert (again.created, again.skipped) == (0, count)
    total = run(sessions, lambda s: len(s.exec(select(User.id)).all()))
    assert total == count


def test_an_employer_administrators_roster_gets_their_employer(sessions: Sessions) -> None:
    text = f"姓名,身份证号,单位\n李四,{WOMAN},别的单位\n"
    run(sessions, lambda s: accounts.import_roster(
        s, roster(text), now=NOW, links=LINKS, employer="一中"))  # fmt: skip
    user = run(sessions, lambda s: accounts.find_account(s, WOMAN))
    assert user is not None and user.employer == "一中"


# --------------------------------------------------------------------- activation


def _token(notice: Notice) -> str:
    return notice.link.partition("#")[2]


def test_an_activation_link_sets_the_password_once_and_only_while_it_is_the_newest(
    sessions: Sessions,
) -> None:
    _, notices = run(sessions, lambda s: accounts.import_roster(
        s, roster(f"姓名,身份证号\n李四,{WOMAN}\n"), now=NOW, links=LINKS))  # fmt: skip
    first = _token(notices[0])
    assert len(first) >= 32  # 192 random bits, URL-safe

    def activate(token: str, password: str = "Study-2026x", at: datetime = NOW) -> User:
        return run(sessions, lambda s: accounts.activate(
            s, token=token, new_password=password, now=at, hasher=fake_hash))  # fmt: skip

    # A weak password is refused naming the field, and the link stays usable.
    with pytest.raises(accounts.AccountInvalidError) as weak:
        activate(first, password="12345678")
    assert weak.value.problems[0].field == "new_password"
    # A newer link replaces it.
    user = run(sessions, lambda s: accounts.find_account(s, WOMAN))
    assert user is not None
    [newer] = run(sessions, lambda s: accounts.issue_activations(
        s, [s.get(User, user.id)], purpose="activation", now=NOW, ttl_h=1,
        origin="https://edu.example.cn", actor_id=None))  # fmt: skip
    with pytest.raises(accounts.ActivationInvalidError):
        activate(first)
    # Past its hour it has expired; an unknown token is refused the same way.
    later = datetime.fromtimestamp(newer.expires_ms / 1000, UTC)
    with pytest.raises(accounts.ActivationInvalidError):
        activate(_token(newer), at=later)
    with pytest.raises(accounts.ActivationInvalidError):
        activate("x" * 32)
    done = activate(_token(newer))
    assert (done.password_hash, done.must_change_password) == ("plain:Study-2026x", False)
    assert done.session_generation == user.session_generation + 1
    with pytest.raises(accounts.ActivationInvalidError):  # used once
        activate(_token(newer), password="Other-2026x")
    kinds = run(sessions, lambda s: [e.kind for e in s.exec(
        select(AccountEvent).where(AccountEvent.user_id == user.id)
        .order_by(col(AccountEvent.id)))])  # fmt: skip
    assert kinds == ["imported", "activation_sent", "activation_sent", "activated"]


def test_an_account_still_on_the_old_initial_password_must_change_it(sessions: Sessions) -> None:
    learner = register(sessions)
    old = accounts.initial_password(MAN)
    with sessions() as s:
        user = s.get(User, learner.id)
        assert user is not None and not user.must_change_password
        accounts.force_change_of_old_initial_password(s, user, "Study-2026x", now=NOW)
        assert not user.must_change_password  # any other password: nothing to do
        accounts.force_change_of_old_initial_password(s, user, old, now=NOW)
        assert user.must_change_password
        s.commit()
    kinds = run(sessions, lambda s: [e.kind for e in s.exec(
        select(AccountEvent).where(AccountEvent.user_id == learner.id))])  # fmt: skip
    assert "initial_password_used" in kinds


# ------------------------------------------------------------------- resets, roles


def test_resets_follow_who_may_act_on_whom_and_are_recorded(sessions: Sessions) -> None:
    learner = register(sessions, employer="一中")
    admin = add_staff(sessions, "admin1", "employer_admin", employer="一中")
    other = add_staff(sessions, "admin2", "employer_admin", employer="二中")
    operator = add_staff(sessions, "operator1", "operator")

    def reset(actor: int, login: str = MAN, **kw: Any) -> accounts.PasswordReset:
        done, notices = run(sessions, lambda s: accounts.reset_password(
            s, login=login, actor_id=actor, now=NOW, hasher=fake_hash, links=RESET_LINKS,
            **kw))  # fmt: skip
        sent.extend(notices)
        return done

    sent: list[Notice] = []
    generation = run(sessions, lambda s: s.get(User, learner.id).session_generation)
    done = reset(admin)
    assert run(sessions, lambda s: s.get(User, learner.id).session_generation) == generation + 1
    # The old password is gone and a link went to the holder; the admin saw neither.
    assert (done.how, done.link_expires_ms) == (
        "link",
        int(NOW.timestamp() * 1000) + 24 * 3_600_000,
    )
    assert run(sessions, lambda s: s.get(User, learner.id).password_hash) == accounts.NO_PASSWORD
    assert [(n.kind, n.login) for n in sent] == [("password_reset", MAN)]
    # An employer administrator may not choose the password.
    with pytest.raises(AccountRefusedError) as chose:
        reset(admin, password="Temp-2026x")
    assert chose.value.code == "password_not_yours_to_choose"
    # To an employer administrator an account outside their employer's learners does
    # not exist: the same error as an unknown login, so none can be probed.
    with pytest.raises(AccountNotFoundError):
        reset(other)
    with pytest.raises(AccountNotFoundError):
        reset(admin, login="operator1")
    chosen = reset(operator, login="admin1", password="Temp-2026x")
    assert (chosen.how, chosen.account.must_change_password) == ("chosen", True)
    assert run(sessions, lambda s: s.get(User, admin).password_hash) == "plain:Temp-2026x"
    with pytest.raises(AccountNotFoundError):
        reset(operator, login="nobody")
    events = run(sessions, lambda s: s.exec(select(AccountEvent).where(
        AccountEvent.kind == "password_reset").order_by(col(AccountEvent.id))).all())  # fmt: skip
    assert [(e.user_id, e.actor_id, e.detail["password"]) for e in events] == [
        (learner.id, admin, "link"), (admin, operator, "chosen"),
    ]  # fmt: skip


def test_roles_are_replaced_validated_and_recorded(sessions: Sessions) -> None:
    learner = register(sessions)
    operator = add_staff(sessions, "operator1", "operator")

    def set_roles(login: str, roles: list[str]) -> accounts.Account:
        return run(sessions, lambda s: accounts.set_roles(
            s, login=login, roles=roles, actor_id=operator, now=NOW))  # fmt: skip

    assert set_roles(MAN, ["proctor", "learner", "proctor"]).roles == ("learner", "proctor")
    assert run(sessions, lambda s: s.get(User, learner.id).session_generation) == 1
    with pytest.raises(AccountInvalidError):
        set_roles(MAN, [])
    with pytest.raises(AccountInvalidError):
        set_roles(MAN, ["root"])
    with pytest.raises(AccountRefusedError):
        set_roles("operator1", ["author"])
    assert set_roles("operator1", ["operator", "author"]).roles == ("author", "operator")
    query = select(AccountEvent).where(
        AccountEvent.kind == "roles_changed", AccountEvent.user_id == learner.id
    )
    event = run(sessions, lambda s: s.exec(query).one())
    assert event.detail == {"old": ["learner"], "new": ["learner", "proctor"]}


# ------------------------------------------------------------------------ the lock


@pytest.fixture(params=["memory", "file", "redis", "redis-cluster"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "file":
        yield FileStore(tmp_path / "login_failures", create_directories=True)
    else:  # one server or the cluster, connected to as the app does
        target = redis_target_of(
            request, "cluster" if request.param == "redis-cluster" else "server"
        )
        client: Any = connect(target.settings())
        yield RedisStore(client, namespace=f"{target.prefix}:login_failures")
        await client.aclose()


A = accounts.LockKeys(account="user:1:g0", address="10.0.0.1")
A_ELSEWHERE = accounts.LockKeys(account="user:1:g0", address="10.9.9.9")
B = accounts.LockKeys(account="user:2:g0", address="10.0.0.1")


async def test_the_lock_closes_after_n_failures_and_opens_when_its_time_is_up(
    store: Store,
) -> None:
    locks = LoginLocks(store, LockPolicy(max_failures=3, lock_s=600))
    for t in (1_000, 2_000):
        await locks.check(A, now_ms=t)
        assert (await locks.failed(A, now_ms=t)).failures == t // 1_000
    with pytest.raises(AccountLockedError) as locking:
        await locks.failed(A, now_ms=3_000)
    assert locking.value.locked_until_ms == 603_000
    assert locking.value.retry_after_s == 600
    with pytest.raises(AccountLockedError) as still:
        await locks.check(A, now_ms=602_500)
    assert still.value.retry_after_s == 1
    await locks.check(A, now_ms=603_000)  # open again
    await locks.check(B, now_ms=3_000)  # other accounts were never locked
    assert (await locks.failed(A, now_ms=603_000)).failures == 1


async def test_the_lock_holds_for_the_address_that_failed_only(store: Store) -> None:
    locks = LoginLocks(store, LockPolicy(max_failures=2, lock_s=600))
    await locks.failed(A, now_ms=1_000)
    with pytest.raises(AccountLockedError):
        await locks.failed(A, now_ms=2_000)
    with pytest.raises(AccountLockedError):
        await locks.check(A, now_ms=3_000)
    await locks.check(A_ELSEWHERE, now_ms=3_000)  # the owner, elsewhere, may try
    assert (await locks.failed(A_ELSEWHERE, now_ms=3_000)).failures == 1


async def test_many_failures_from_many_addresses_close_the_account_to_unknown_ones(
    store: Store,
) -> None:
    policy = LockPolicy(max_failures=5, lock_s=600, account_failures=4, account_window_s=3600)
    locks = LoginLocks(store, policy)
    known = accounts.LockKeys(account="user:1:g0", address="10.0.0.7")
    await locks.succeeded(known)  # the owner signed in from here once
    for n in range(4):  # one failure each from four addresses: no address is paused
        await locks.failed(
            accounts.LockKeys(account="user:1:g0", address=f"192.0.2.{n}"), now_ms=1_000 + n
        )
    with pytest.raises(AccountLockedError) as closed:
        await locks.check(A, now_ms=5_000)
    assert closed.value.locked_until_ms == 1_000 + 3_600_000
    assert "new device" in closed.value.message and "新的设备" in closed.value.message_zh
    await locks.check(known, now_ms=5_000)  # a known address still may
    await locks.check(B, now_ms=5_000)  # other accounts are untouched
    await locks.check(A, now_ms=1_000 + 3_600_000)  # the hour is over


async def test_a_success_clears_the_count(store: Store) -> None:
    locks = LoginLocks(store, LockPolicy(max_failures=2, lock_s=600))
    await locks.failed(A, now_ms=1_000)
    await locks.succeeded(A)
    assert (await locks.failed(A, now_ms=2_000)).failures == 1


def test_the_lock_keys_carry_the_session_generation_so_a_reset_starts_afresh() -> None:
    user = User(id=7, login="x", display_name="x", password_hash="x", session_generation=3)
    keys = accounts.lock_keys(user, "x", "10.0.0.1")
    assert keys.pair == "user:7:g3|10.0.0.1"
    assert keys.known == "known:user:7|10.0.0.1"
    assert accounts.lock_keys(None, " Nobody ", "10.0.0.1").pair == "login:nobody|10.0.0.1"


async def test_session_generations_round_trip_in_the_store(store: Store) -> None:
    generations = accounts.SessionGenerations(store)
    assert await generations.current(5) is None
    await generations.moved(5, 2)
    assert await generations.current(5) == 2
    assert await accounts.SessionGenerations(store).current(5) == 2  # another worker
    assert await generations.current(6) is None


def test_the_lock_message_gives_the_beijing_time_and_the_minutes_to_wait() -> None:
    # 2026-11-22 09:00 UTC is 17:00 in Beijing; locked for 15 minutes.
    now_ms = int(NOW.timestamp() * 1000)
    error = AccountLockedError(locked_until_ms=now_ms + 900_000, now_ms=now_ms)
    assert "until 17:15 Beijing time" in error.message
    assert "Try again in 15 minute(s)" in error.message
    assert "北京时间 17:15 前无法从当前设备或网络登录此账号。请 15 分钟后再试" in error.message_zh
