"""Item texts as HTML: Markdown rendered on the server, then sanitized (decision 0032).

Stems, option texts and explanations are Markdown with inline HTML (what GIFT's
``[markdown]``, Moodle XML's HTML and QTI's XHTML become on import). ``html`` renders a
block (a stem, an explanation) and ``inline_html`` a phrase (an option, a prompt) with
markdown-it-py, then nh3 keeps a small safe subset: paragraphs, emphasis, code, lists,
tables, sub/superscripts and images. An image keeps its ``src`` only when it is one of the
bank's own (``media:<sha256>``, served at ``/media/<sha256>``): no external image, no
script, no event handler, no ``javascript:`` URL survives. Links become their text.

The output is safe to insert as HTML (Jinja ``|safe``, ``innerHTML``). Rendering is pure
and cached: every learner's paper shows the same few hundred texts.
"""

from __future__ import annotations

import html as htmllib
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

#: Where the bank's images are served (``api.http.media``).
MEDIA_URL = "/media/"

_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "b", "i", "u", "s", "del", "code", "pre", "blockquote",
        "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "sub", "sup", "img",
        "hr", "span",
    }
)  # fmt: skip
_ATTRIBUTES: dict[str, set[str]] = {
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "ol": {"start"},
}
_MEDIA_SRC = re.compile(r"media:([0-9a-f]{64})")

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "breaks": True}).enable("table")


def _keep(element: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: an image's source only when it is the bank's own."""
    if element == "img" and attribute == "src":
        match = _MEDIA_SRC.fullmatch(value.strip())
        return f"{MEDIA_URL}{match.group(1)}" if match else None
    return value


def sanitize(html_text: str) -> str:
    """``html_text`` with only the safe subset kept (see the module docstring)."""
    return nh3.clean(
        html_text,
        tags=set(_TAGS),
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        attribute_filter=_keep,
        url_schemes={"media"},  # and relative URLs, which _keep refuses
        filter_style_properties={"text-align"},
        link_rel=None,
    )


#: A character that may start Markdown or HTML syntax, or be escaped on output. A text
#: with none of these (one line, printable, no surrounding space, not starting with a
#: digit) renders as itself: most CJK stems and options, rendered in ~1 µs, not ~250.
_SYNTAX = re.compile(r"[\\`*_\[\]<>&#|~!=+\-]")


def _plain(text: str) -> bool:
    return (
        text.isprintable()
        and text == text.strip()
        and not text[0].isdigit()
        and _SYNTAX.search(text) is None
    )


@lru_cache(maxsize=8192)
def html(text: str) -> str:
    """A block of Markdown (a stem, an explanation) as sanitized HTML."""
    if not text:
        return ""
    if _plain(text):
        return f"<p>{text}</p>\n"
    return sanitize(_MARKDOWN.render(text))


@lru_cache(maxsize=8192)
def inline_html(text: str) -> str:
    """A phrase of Markdown (an option, a prompt) as sanitized HTML, with no paragraph."""
    if not text:
        return ""
    if _plain(text):
        return text
    return sanitize(_MARKDOWN.renderInline(text))


@lru_cache(maxsize=8192)
def excerpt(text: str, limit: int) -> str:
    """An item text as plain words on one line, cut to ``limit`` characters with an
    ellipsis (a list's label: no tags or Markdown marks, an image as "[图]")."""
    if not _plain(text):
        words = nh3.clean(_IMAGE_TAG.sub("[图]", html(text)), tags=set())
        text = htmllib.unescape(words)
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


_IMAGE_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
