"""The server of the HTTP part of ``benchmarks.challenges``: the real app (settings from
the environment, as ``uvicorn api.app:create_app --factory`` builds it) plus one
hello-world route, so the baseline runs in the same process, behind the same middleware.

    uvicorn benchmarks.http_app:create --factory
"""

from __future__ import annotations

from litestar import Litestar, post
from msgspec import Struct

from api.app import create_app


class Hello(Struct, frozen=True):
    slot: int
    seq: int


@post("/bench/hello", status_code=200, sync_to_thread=False)
def hello(data: Hello) -> Hello:
    """Decode a body the size of an ack's, encode it back: the framework's floor."""
    return data


def create() -> Litestar:
    return create_app(route_handlers=[hello])
