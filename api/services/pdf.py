"""What every PDF of the engine shares: the CJK font, embedded (a subset of it, as
reportlab writes TrueType fonts), and the document's metadata (docs/decisions/0027).

The font is the bundled WenQuanYi Micro Hei (Apache-2.0, ``fonts/``) unless
``EXAMENGINE_PDF_FONT`` names another TrueType font; it is registered once per process
under ``FONT`` (and ``FONT_BOLD``, the same face: Micro Hei has no bold).
"""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT = "ExamengineCJK"
BUNDLED_FONT = Path(__file__).parent / "fonts" / "wqy-microhei.ttc"
_lock = threading.Lock()
#: The font registered in this process (one at most).
_registered: dict[str, Path] = {}


class FontError(RuntimeError):
    """The configured PDF font cannot be used."""


def register_font(path: Path | None = None) -> str:
    """Register the CJK font (``path``, or the bundled one) under ``FONT``; returns the
    name. A second call with another path is refused (one font per process)."""
    chosen = path or BUNDLED_FONT
    with _lock:
        if FONT in _registered:
            if _registered[FONT] != chosen:
                raise FontError(f"the PDF font is already {_registered[FONT]}, not {chosen}")
            return FONT
        try:
            font = (
                TTFont(FONT, str(chosen), subfontIndex=0)
                if chosen.suffix.lower() == ".ttc"
                else TTFont(FONT, str(chosen))
            )
        except (OSError, TTFError) as exc:
            raise FontError(
                f"EXAMENGINE_PDF_FONT={chosen}: not a usable TrueType font ({exc})"
            ) from None
        pdfmetrics.registerFont(font)
        _registered[FONT] = chosen
    return FONT
