"""Settings.from_env: the variable table, defaults, bad values, secrets, immutability."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from api.services import keys
from api.settings import VARIABLES, SecuritySettings, Settings, SettingsError
from examengine import signing

SECRET = "s" * 40
PAPER = "p" * 40
SIGNING = "g" * 40


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"EXAMENGINE_VAR_DIR": str(tmp_path / "var"), **values}


def test_defaults_serve_one_process_on_sqlite_in_var(tmp_path: Path) -> None:
    settings = Settings.from_env(env(tmp_path))
    assert settings.environment == "development"
    assert settings.database.url == "sqlite:///var/examengine.db"
    assert settings.database.echo is False
    assert settings.redis.url is None
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.server.workers == 1
    assert settings.server.log_level == "INFO"
    assert settings.exam.network_grace_s == 30
    assert settings.security.session_max_age == 8 * 3600


def test_every_variable_reaches_its_field(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(
            tmp_path,
            EXAMENGINE_ENV="production",
            EXAMENGINE_DATABASE_URL="postgresql+psycopg://u:p@db:5432/exam",
            EXAMENGINE_DATABASE_ECHO="yes",
            EXAMENGINE_REDIS_URL="redis://cache:6379/1",
            EXAMENGINE_REDIS_PREFIX="exam-a",
            EXAMENGINE_SECRET_KEY=SECRET,
            EXAMENGINE_PAPER_SECRET=PAPER,
            EXAMENGINE_SIGNING_SECRET=SIGNING,
            EXAMENGINE_SESSION_MAX_AGE="3600",
            EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE="300",
            EXAMENGINE_HOST="0.0.0.0",
            EXAMENGINE_PORT="9000",
            EXAMENGINE_WORKERS="4",
            EXAMENGINE_LOG_LEVEL="debug",
            EXAMENGINE_NETWORK_GRACE_S="45",
        )
    )
    assert settings.environment == "production"
    assert settings.database.url == "postgresql+psycopg://u:p@db:5432/exam"
    assert settings.database.echo is True
    assert settings.redis.url == "redis://cache:6379/1"
    assert settings.redis.key_prefix == "exam-a"
    assert settings.security == SecuritySettings(
        secret_key=SECRET, paper_secret=PAPER, session_max_age=3600, login_attempts_per_minute=300
    )
    assert (settings.server.host, settings.server.port, settings.server.workers) == (
        "0.0.0.0",
        9000,
        4,
    )
    assert settings.server.log_level == "DEBUG"
    assert settings.exam.network_grace_s == 45


def test_every_variable_in_the_table_is_documented_and_prefixed() -> None:
    for variable in VARIABLES:
        assert variable.name.startswith("EXAMENGINE_")
        assert variable.help


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_urls_are_rewritten_to_psycopg_3(tmp_path: Path, scheme: str) -> None:
    settings = Settings.from_env(
        env(tmp_path, EXAMENGINE_DATABASE_URL=f"{scheme}://user:p%40ss@host/db")
    )
    assert settings.database.url == "postgresql+psycopg://user:p%40ss@host/db"


def test_blank_values_fall_back_to_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env(env(tmp_path, EXAMENGINE_PORT="  ", EXAMENGINE_REDIS_URL=""))
    assert settings.server.port == 8000
    assert settings.redis.url is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EXAMENGINE_PORT", "http", "expected a whole number"),
        ("EXAMENGINE_PORT", "70000", "between 1 and 65535"),
        ("EXAMENGINE_WORKERS", "0", "between 1 and 64"),
        ("EXAMENGINE_SESSION_MAX_AGE", "5", "at least 60"),
        ("EXAMENGINE_NETWORK_GRACE_S", "-1", "between 0 and 600"),
        ("EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE", "0", "between 1 and 100000"),
        ("EXAMENGINE_DATABASE_ECHO", "maybe", "expected one of true/false"),
        ("EXAMENGINE_DATABASE_URL", "mysql://db/exam", "unsupported database 'mysql'"),
        ("EXAMENGINE_DATABASE_URL", "not a url", "not a database URL"),
        ("EXAMENGINE_REDIS_URL", "http://cache", "expected a redis://"),
        ("EXAMENGINE_REDIS_PREFIX", "a b", "expected up to 64 letters"),
        ("EXAMENGINE_LOG_LEVEL", "LOUD", "expected one of DEBUG, INFO, WARNING, ERROR"),
        ("EXAMENGINE_ENV", "staging", "expected one of development, production"),
        ("EXAMENGINE_SECRET_KEY", "short", "too short: at least 32 characters"),
        ("EXAMENGINE_PAPER_SECRET", "short", "too short: at least 32 characters"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env(tmp_path, **{name: value}))
    assert str(raised.value).startswith(f"{name}={value!r}: ")
    assert message in str(raised.value)


def test_a_misspelt_variable_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"EXAMENGINE_DATABSE_URL: unknown variable "
                       r"\(did you mean EXAMENGINE_DATABASE_URL\?\)"):  # fmt: skip
        Settings.from_env(env(tmp_path, EXAMENGINE_DATABSE_URL="sqlite:///x.db"))


def test_test_suite_variables_are_not_settings(tmp_path: Path) -> None:
    Settings.from_env(env(tmp_path, EXAMENGINE_TEST_POSTGRES_URL="postgresql://x/y"))


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="EXAMENGINE_SECRET_KEY is required when"):
        Settings.from_env(env(tmp_path, EXAMENGINE_ENV="production"))
    with pytest.raises(SettingsError, match="EXAMENGINE_PAPER_SECRET is required when"):
        Settings.from_env(env(tmp_path, EXAMENGINE_ENV="production", EXAMENGINE_SECRET_KEY=SECRET))
    assert not (tmp_path / "var").exists()


def test_development_generates_private_secrets_once_and_keeps_them(tmp_path: Path) -> None:
    first = Settings.from_env(env(tmp_path))
    second = Settings.from_env(env(tmp_path))
    assert first.security == second.security
    assert len(first.security.secret_key) >= 32
    assert first.security.secret_key != first.security.paper_secret
    for name in ("secret_key", "paper_secret"):
        path = tmp_path / "var" / "secrets" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var" / "secrets").stat().st_mode) == 0o700
    assert not [p for p in (tmp_path / "var" / "secrets").iterdir() if p.name.startswith(".")]


def test_a_secret_from_the_environment_wins_over_the_stored_one(tmp_path: Path) -> None:
    Settings.from_env(env(tmp_path))
    settings = Settings.from_env(env(tmp_path, EXAMENGINE_SECRET_KEY=SECRET))
    assert settings.security.secret_key == SECRET


def test_a_truncated_stored_secret_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "var" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "secret_key").write_text("abc\n")
    with pytest.raises(SettingsError, match="stored development secret is too short"):
        Settings.from_env(env(tmp_path))


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings.from_env(env(tmp_path))
    with pytest.raises(AttributeError):
        settings.server = settings.server  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.server.port = 1  # type: ignore[misc]
    assert msgspec.structs.replace(settings.server, port=1).port == 1


def test_several_workers_need_redis(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="EXAMENGINE_WORKERS=2 needs EXAMENGINE_REDIS_URL"):
        Settings.from_env({"EXAMENGINE_WORKERS": "2", "EXAMENGINE_VAR_DIR": str(tmp_path)})
    settings = Settings.from_env(
        {"EXAMENGINE_WORKERS": "2", "EXAMENGINE_VAR_DIR": str(tmp_path),
         "EXAMENGINE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    )  # fmt: skip
    assert settings.server.workers == 2


def test_cluster_mode_needs_a_node_address_and_database_0(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(tmp_path, EXAMENGINE_REDIS_URL="redis://10.0.0.5:7001", EXAMENGINE_REDIS_CLUSTER="1")
    )
    assert settings.redis.cluster is True
    assert Settings.from_env(env(tmp_path)).redis.cluster is False
    with pytest.raises(
        SettingsError, match="EXAMENGINE_REDIS_CLUSTER=1 needs EXAMENGINE_REDIS_URL"
    ):
        Settings.from_env(env(tmp_path, EXAMENGINE_REDIS_CLUSTER="yes"))
    for url in ("redis://10.0.0.5:7001/2", "redis://10.0.0.5:7001?db=1"):
        with pytest.raises(SettingsError, match="only database 0"):
            Settings.from_env(env(tmp_path, EXAMENGINE_REDIS_URL=url, EXAMENGINE_REDIS_CLUSTER="1"))


def test_a_load_test_run_is_refused_in_production(tmp_path: Path) -> None:
    values = {"EXAMENGINE_SECRET_KEY": SECRET, "EXAMENGINE_PAPER_SECRET": PAPER,
              "EXAMENGINE_SIGNING_SECRET": SIGNING}  # fmt: skip
    assert Settings.from_env(env(tmp_path, EXAMENGINE_LOAD_TEST="1")).load_test is True
    with pytest.raises(SettingsError, match="EXAMENGINE_LOAD_TEST is refused"):
        Settings.from_env(
            env(tmp_path, EXAMENGINE_ENV="production", EXAMENGINE_LOAD_TEST="on", **values)
        )
    assert not Settings.from_env(env(tmp_path, EXAMENGINE_ENV="production", **values)).load_test


def test_capacity_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(
            tmp_path,
            EXAMENGINE_THREADS="8",
            EXAMENGINE_QUEUE_DEPTH="0",
            EXAMENGINE_QUEUE_WAIT_MS="250",
            EXAMENGINE_QUEUE_STANDING_WAIT_MS="20",
            EXAMENGINE_KEEP_ALIVE_S="30",
            EXAMENGINE_SHUTDOWN_TIMEOUT_S="5",
            EXAMENGINE_DB_STATEMENT_TIMEOUT_MS="2000",
            EXAMENGINE_SQLITE_WRITE_WAIT_MS="900",
        )
    )
    assert (settings.server.threads, settings.server.queue_depth) == (8, 0)
    assert (settings.server.queue_wait_ms, settings.server.keep_alive_s) == (250, 30)
    assert settings.server.queue_standing_wait_ms == 20
    assert settings.server.shutdown_timeout_s == 5
    assert settings.database.statement_timeout_ms == 2000
    assert settings.database.sqlite_write_wait_ms == 900
    with pytest.raises(SettingsError, match="EXAMENGINE_THREADS"):
        Settings.from_env(env(tmp_path, EXAMENGINE_THREADS="0"))


def test_payment_providers_and_the_transfer_account_are_read_and_checked(tmp_path: Path) -> None:
    settings = Settings.from_env(env(
        tmp_path, EXAMENGINE_PAYMENT_PROVIDERS="pay.alipay:provider, pay.wechat:provider",
        EXAMENGINE_TRANSFER_PAYEE="某某继续教育平台有限公司", EXAMENGINE_TRANSFER_BANK="工商银行",
        EXAMENGINE_TRANSFER_ACCOUNT="3100 0200 0901 0000 000",
    ))  # fmt: skip
    assert settings.payments.providers == ("pay.alipay:provider", "pay.wechat:provider")
    assert settings.payments.transfer_account == "3100 0200 0901 0000 000"
    with pytest.raises(SettingsError, match=r"EXAMENGINE_PAYMENT_PROVIDERS.*module:factory"):
        Settings.from_env(env(tmp_path, EXAMENGINE_PAYMENT_PROVIDERS="alipay"))
    with pytest.raises(SettingsError, match=r"EXAMENGINE_TRANSFER_ACCOUNT.*at most 40"):
        Settings.from_env(env(tmp_path, EXAMENGINE_TRANSFER_ACCOUNT="1" * 41))


def test_regions_whose_yearly_hours_differ_are_read_and_checked(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(tmp_path, EXAMENGINE_YEARLY_HOURS_BY_REGION="上海市=72, 重庆市 = 90")
    )
    assert settings.study.yearly_hours_by_region == (("上海市", 72), ("重庆市", 90))
    assert settings.study.yearly_hours_for("上海市") == 72
    assert settings.study.yearly_hours_for("北京市") == 90  # not named: the national rule
    assert settings.study.yearly_hours_for(None) == 90
    refusals = (
        ("上海市", "expected region=hours"),
        ("上海市=0", "between 1 and 1000"),
        ("=72", "expected region=hours"),
        ("上海市=七十二", "expected region=hours"),
    )
    for raw, why in refusals:
        with pytest.raises(SettingsError, match=why):
            Settings.from_env(env(tmp_path, EXAMENGINE_YEARLY_HOURS_BY_REGION=raw))


def test_the_records_settings_are_read_and_checked(tmp_path: Path) -> None:
    retired = signing.SigningKey.from_secret("an older signing secret " + "o" * 20).verify_key
    settings = Settings.from_env(
        env(
            tmp_path,
            EXAMENGINE_SIGNING_SECRET="s" * 43,
            EXAMENGINE_SIGNING_RETIRED_KEYS=signing.b64url(retired.raw),
            EXAMENGINE_CERT_ISSUER="重庆市继续教育中心",
            EXAMENGINE_VERIFY_BASE_URL="https://exam.example.cn/",
            EXAMENGINE_VERIFY_PER_MINUTE="5",
            EXAMENGINE_CHECKPOINT_INTERVAL_MS="0",
        )
    )
    records = settings.records
    assert (records.signing_secret, records.issuer) == ("s" * 43, "重庆市继续教育中心")
    assert records.verify_base_url == "https://exam.example.cn"
    assert (records.verify_per_minute, records.checkpoint_interval_ms) == (5, 0)
    assert retired.kid in keys.published(records) and len(keys.published(records)) == 2
    with pytest.raises(SettingsError, match=r"EXAMENGINE_SIGNING_RETIRED_KEYS.*32 bytes"):
        Settings.from_env(env(tmp_path, EXAMENGINE_SIGNING_RETIRED_KEYS="abc"))
    with pytest.raises(SettingsError, match=r"EXAMENGINE_VERIFY_BASE_URL.*scheme://host"):
        Settings.from_env(env(tmp_path, EXAMENGINE_VERIFY_BASE_URL="exam.example.cn"))
    with pytest.raises(SettingsError, match=r"EXAMENGINE_SIGNING_SECRET.*too short"):
        Settings.from_env(env(tmp_path, EXAMENGINE_SIGNING_SECRET="short"))
    with pytest.raises(SettingsError, match="EXAMENGINE_SIGNING_SECRET is required"):
        Settings.from_env(
            env(
                tmp_path,
                EXAMENGINE_ENV="production",
                EXAMENGINE_SECRET_KEY="k" * 43,
                EXAMENGINE_PAPER_SECRET="p" * 43,
            )
        )
    # development: generated once into the var directory, the same key on every start
    first = Settings.from_env(env(tmp_path)).records.signing_secret
    assert first and Settings.from_env(env(tmp_path)).records.signing_secret == first
