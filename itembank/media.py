"""Images a bank file carries, and how item texts refer to them.

Item texts are Markdown (HTML inline allowed). An image the bank holds is referred to
by its content address, ``media:<sha256 hex>``, in a Markdown image (``![alt](media:…)``)
or an HTML ``<img src="media:…">``; the shell stores the bytes under that hash and
serves them (docs/decisions/0032). The formats that carry images — Moodle XML's
``<file encoding="base64">`` with ``@@PLUGINFILE@@/name`` references, QTI content
packages' image files referred to by relative path — turn their references into this
form as they read, with ``MediaBag``.

No I/O here: the bytes are checked (type by their first bytes, size, how many per file)
and handed back in the parse result; what does not pass is a ``Problem`` naming the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

from msgspec import Struct

from itembank.problems import Problem

#: Largest image accepted (bytes).
MAX_IMAGE_BYTES = 2 << 20
#: Most distinct images one bank file may carry.
MAX_IMAGES = 500
#: The prefix of an image reference in an item text.
SCHEME = "media:"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

#: ``src="…"`` of an ``<img>`` (either quote), and the target of a Markdown image.
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_MD_IMAGE = re.compile(r"(!\[[^\]]*\]\()(<[^>]*>|[^)\s]+)")
_REFERENCE = re.compile(r"media:([0-9a-f]{64})")


class Media(Struct, frozen=True, kw_only=True):
    """One image: ``sha256`` (hex) is its address, ``name`` the file name it came with."""

    sha256: str
    mime: str
    name: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The image type told from the first bytes (png, jpeg, gif, webp), else None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def reference(sha256: str) -> str:
    """How an item text refers to the image with this hash."""
    return f"{SCHEME}{sha256}"


def references(text: str) -> list[str]:
    """The hashes of the images ``text`` refers to, in order."""
    return _REFERENCE.findall(text)


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def file_name(media: Media) -> str:
    """The name an export gives the image: its hash's first 16 digits and its type's
    extension (stable, ASCII, and the same image always the same file)."""
    return f"{media.sha256[:16]}.{_EXTENSIONS.get(media.mime, 'bin')}"


def embed(
    text: str, media: Mapping[str, Media], target: Callable[[Media], str]
) -> tuple[str, list[Media]]:
    """For a writer that carries images: ``text`` with each ``media:<hash>`` source whose
    bytes ``media`` holds replaced by ``target(image)``, and those images in order (each
    once). A reference ``media`` does not hold stays as it is (the export reports it)."""
    if SCHEME not in text:
        return text, []
    used: dict[str, Media] = {}

    def resolve(src: str) -> str | None:
        image = media.get(src[len(SCHEME) :]) if src.startswith(SCHEME) else None
        if image is None:
            return None
        used.setdefault(image.sha256, image)
        return target(image)

    return rewrite_sources(text, resolve), list(used.values())


def rewrite_sources(text: str, resolve: Callable[[str], str | None]) -> str:
    """``text`` with each image source ``s`` (``<img src>``, Markdown ``![](s)``) replaced
    by ``resolve(s)``; a source ``resolve`` gives None for is left as it is."""

    def html(match: re.Match[str]) -> str:
        found = resolve(match.group(3))
        if found is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{found}{match.group(2)}"

    def markdown(match: re.Match[str]) -> str:
        target = match.group(2)
        found = resolve(target[1:-1] if target.startswith("<") else target)
        return match.group(0) if found is None else f"{match.group(1)}{found}"

    if "<" in text:
        text = _IMG_SRC.sub(html, text)
    if "![" in text:
        text = _MD_IMAGE.sub(markdown, text)
    return text


class MediaBag:
    """The images of one file, each once by hash, and the problems with them.

    ``add`` checks one image and gives its reference (``media:<hash>``), or None when
    it is refused; the refusal is in ``problems``, naming the file.
    """

    def __init__(self) -> None:
        self.media: dict[str, Media] = {}
        self.problems: list[Problem] = []

    def add(self, name: str, data: bytes, *, line: int = 0, col: int = 0) -> str | None:
        if len(data) > MAX_IMAGE_BYTES:
            limit = f"{MAX_IMAGE_BYTES >> 20} MiB"
            self._refuse(
                "media_too_large",
                f"the image {name!r} is {len(data):,} bytes, larger than {limit}",
                f"图片 {name!r} 有 {len(data):,} 字节，超过 {limit}",
                line,
                col,
            )
            return None
        mime = sniff(data)
        if mime is None:
            self._refuse(
                "media_type",
                f"{name!r} is not a PNG, JPEG, GIF or WebP image",
                f"{name!r} 不是 PNG、JPEG、GIF 或 WebP 图片",
                line,
                col,
            )
            return None
        sha = hashlib.sha256(data).hexdigest()
        if sha not in self.media:
            if len(self.media) >= MAX_IMAGES:
                self._refuse(
                    "media_too_many",
                    f"the image {name!r} is one more than the {MAX_IMAGES} one file may carry",
                    f"图片 {name!r} 超出单个文件最多 {MAX_IMAGES} 张图片的限制",
                    line,
                    col,
                )
                return None
            self.media[sha] = Media(sha256=sha, mime=mime, name=name, data=data)
        return reference(sha)

    def _refuse(self, code: str, en: str, zh: str, line: int, col: int) -> None:
        self.problems.append(Problem(code=code, message=en, message_zh=zh, line=line, col=col))
