"""The file store after a crash: a write cut short by SIGKILL leaves Litestar's temporary
file behind; the app must still start (the crash drill found it refusing to), and a
damaged value reads as missing instead of failing the request."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from api.app import create_app
from api.settings import Settings
from api.store.files import FileStore


async def test_the_clean_up_at_start_removes_what_an_interrupted_write_left(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path, create_directories=True)
    await store.set("kept", b"a session", expires_in=3600)
    await store.set("damaged", b"a value", expires_in=3600)
    kept, damaged = (store._path_from_key(key) for key in ("kept", "damaged"))
    whole = Path(kept).read_bytes()
    Path(damaged).write_bytes(whole[:5])  # a damaged disk
    (tmp_path / f"{Path(kept).name}.tmp8d2kq").write_bytes(whole[:5])  # SIGKILL mid-write

    assert await store.get("damaged") is None  # read as missing, not an error
    await store.delete_expired()

    assert [p.name for p in tmp_path.iterdir()] == [Path(kept).name]
    assert await store.get("kept") == b"a session"


def test_the_app_starts_over_a_session_store_a_crash_left_behind(
    settings_sqlite: Settings,
) -> None:
    sessions = settings_sqlite.var_dir / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    (sessions / "3f9a.tmpx1y2z3").write_bytes(b"\x92\xc4")  # truncated msgpack
    with TestClient(create_app(settings_sqlite)) as client:
        assert client.get("/health").status_code == 200
    assert not (sessions / "3f9a.tmpx1y2z3").exists()
