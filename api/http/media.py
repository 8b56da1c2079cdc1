"""The item banks' images over HTTP: ``GET /media/{sha256}`` (decision 0032).

Item texts refer to a bank's images by content hash; ``api.services.markup`` turns
``media:<sha256>`` into this URL. Any signed-in user may ask; ``api.services.media``
says whether they may see it (authors and operators: any bank's; a learner: an image an
item on their own paper refers to). Everyone else gets the same 404 as for an image that
does not exist. An image never changes under its hash, so it is cached for a year, by
the browser only (``private``: it is not public).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from api.http.auth import principal_of, requires_role
from api.http.errors import NotFound
from api.http.params import ONE_LINE
from api.http.schema import replying_in
from api.services import media
from api.store.db import Uow
from itembank.media import MIME_TYPES

#: A SHA-256 in lowercase hex, as ``itembank.media`` writes it: 64 characters on one line
#: (the length is checked here; any other 64 characters name no image: 404).
Sha256 = Annotated[
    str,
    Parameter(
        min_length=64,
        max_length=64,
        pattern=ONE_LINE,
        description="The image's SHA-256, 64 lowercase hex digits",
    ),
]

CACHE = "private, max-age=31536000, immutable"


@get("/media/{sha256:str}", guards=[requires_role()], sync_to_thread=True, tags=["authoring"],
     summary="An image of an item bank, to those who may see an item that shows it",
     operation_class=replying_in(*sorted(MIME_TYPES)))  # fmt: skip
def bank_image(*, request: Request[Any, Any, Any], uow: Uow, sha256: Sha256) -> Response[bytes]:
    """The image's bytes with its type (PNG, JPEG, GIF or WebP). 404 when there is no
    such image or the signed-in user may see no item that shows it."""
    principal = principal_of(request)
    with uow() as db:
        found = media.fetch(db, sha256=sha256, user_id=principal.user_id, roles=principal.roles)
    if found is None:
        raise NotFound("There is no such image here.", "没有找到该图片。")
    headers = {
        "Cache-Control": CACHE,
        "ETag": f'"{found.sha256}"',
        "X-Content-Type-Options": "nosniff",
    }
    return Response(found.data, media_type=found.mime, headers=headers)


MEDIA_HANDLERS = [bank_image]
