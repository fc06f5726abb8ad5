"""The PDF's typeface: DejaVu Sans, embedded, so client data in any European script prints as written.

ReportLab's built-in Helvetica knows Latin-1 only: "Łódź" or "Київ" would print as black boxes. DejaVu
Sans covers Latin, Greek, Cyrillic and more, and it ships with matplotlib (already a dependency, for the
charts), so no font is downloaded or installed: the TrueType files are registered with ReportLab once and
embedded (subset) in each PDF.

DejaVu has no CJK ideographs, and no CJK font ships with a dependency. A run of characters DejaVu lacks
is set in one of ReportLab's built-in CID fonts instead (Adobe's standard Japanese and Korean fonts,
referenced, not embedded): the text stays in the PDF as written (search, copy, extraction), and a reader
with Asian fonts (Acrobat, macOS Preview) shows it; one without them (pdfium on a bare server) leaves a
gap, never a wrong character.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FILES = {
    REGULAR: "DejaVuSans.ttf",
    BOLD: "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
}


CJK, HANGUL = "HeiseiKakuGo-W5", "HYGothic-Medium"  # ReportLab's CID fonts: Adobe-Japan1, Adobe-Korea1


def font_path(name: str) -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / _FILES[name]


@cache
def register() -> str:
    """Register the family with ReportLab (once per process); returns the regular face's name.

    The family mapping lets paragraph markup (`<b>`, `<i>`) pick the right face."""
    for name in _FILES:
        pdfmetrics.registerFont(TTFont(name, str(font_path(name))))
    for bold, italic, name in (
        (0, 0, REGULAR),
        (1, 0, BOLD),
        (0, 1, "DejaVuSans-Oblique"),
        (1, 1, "DejaVuSans-BoldOblique"),
    ):
        addMapping(REGULAR, bold, italic, name)
    for cid in (CJK, HANGUL):
        pdfmetrics.registerFont(UnicodeCIDFont(cid))
    return REGULAR


def covers(char: str, name: str = REGULAR) -> bool:
    """Whether the registered face has a glyph for `char` (what prints as written, not as a box)."""
    register()
    face = pdfmetrics.getFont(name).face
    return ord(char) in face.charToGlyph


def _fallback(char: str) -> str | None:
    """None when DejaVu has the character, else the CID font to set it in."""
    if covers(char) or char.isspace() or not char.isprintable():
        return None
    code = ord(char)
    hangul = 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F
    return HANGUL if hangul else CJK


def markup(text: str) -> str:
    """`text` as paragraph markup: escaped, and each run DejaVu lacks wrapped in its fallback font."""
    out = []
    for font, run in itertools.groupby(text, key=_fallback):
        chunk = escape("".join(run))
        out.append(chunk if font is None else f'<font name="{font}">{chunk}</font>')
    return "".join(out)
