"""The examengine command: schema upgrade, adding users, and one-line errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlmodel import select

from api.cli.main import main
from api.services.passwords import verify_password
from api.settings import DatabaseSettings
from api.store.db import make_engine, session_factory, transaction
from api.store.tables import User


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def test_db_upgrade_then_user_add_creates_a_hashed_account(env: dict[str, str]) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    added = runner.invoke(
        main,
        ["user", "add", "13800138000", "--role", "author", "--role", "proctor",
         "--password", "first password"],
        env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added user 13800138000 (author, proctor)" in added.output
    engine = make_engine(DatabaseSettings(url=env["EXAMENGINE_DATABASE_URL"]))
    try:
        with transaction(session_factory(engine)) as db:
            user = db.exec(select(User)).one()
    finally:
        engine.dispose()
    assert user.roles == ["author", "proctor"]
    assert user.must_change_password is True
    assert verify_password(user.password_hash, "first password")


def test_adding_an_existing_login_is_one_line_and_exit_code_2(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    args = ["user", "add", "13800138000", "--role", "author", "--password", "first password"]
    runner.invoke(main, args, env=env)
    again = runner.invoke(main, args, env=env)
    assert again.exit_code == 2
    assert again.output == "examengine: error: user '13800138000' already exists\n"


def test_a_bad_setting_is_one_line_naming_the_variable(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"], env={**env, "EXAMENGINE_PORT": "x"})
    assert result.exit_code == 2
    assert result.output == (
        "examengine: error: settings: EXAMENGINE_PORT='x': expected a whole number\n"
    )


def test_an_unreachable_database_is_one_line_without_a_traceback(env: dict[str, str]) -> None:
    dead = {**env, "EXAMENGINE_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=dead)
    assert result.exit_code == 2
    assert result.output.startswith("examengine: error: database: ")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output
