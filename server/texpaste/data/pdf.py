"""Render formulas as a paper's display equations look in a PDF viewer (pdflatex + pdftoppm).

Each formula becomes a display equation in a text column of a real paper's width (article at
10, 11 or 12 pt, amsart, a two-column journal), some with an equation number at the column's
margin, on a PDF page of its own that is just large enough for it. All pages of a chunk come
from one pdflatex and one pdftoppm run; each page is anti-aliased at the requested DPI and
cropped around its ink with the uneven margins of a screen selection, so the crop spans from
the formula to its number. Failure attribution, screening and bisection are those of
:mod:`.tex`. Everything drawn for a formula (layout, number, margins, page tint) is a function
of (formula, font, dpi): :func:`page_style`.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from texpaste.data.tex import RenderResult, failed_indices, mark, read_pages, render_bisecting, run_tool
from texpaste.errors import RenderError

# Preamble lines per math font (all from texlive-latex-recommended/-fonts-recommended + lmodern;
# newtx/newpx would need texlive-fonts-extra).
FONTS = {
    "cm": "",
    "lmodern": r"\usepackage{lmodern}",
    "mathptmx": r"\usepackage{mathptmx}",
    "txfonts": r"\usepackage{txfonts}",
    "pxfonts": r"\usepackage{pxfonts}",
    "mathpazo": r"\usepackage{mathpazo}",
}

NUMBERED = 0.3  # share of displays that carry an equation number

# (font size, baselineskip, text width) in pt: article 10/11/12pt, amsart, then the columns of
# two-column papers (article twocolumn, revtex, IEEEtran)
_SINGLE = [(10, 12, 345), (10.95, 13.6, 360), (12, 14.5, 390), (10, 12, 360)]
_DOUBLE = [(10, 12, 229.5), (10, 12, 246), (10, 12, 252)]
_PAD = 12  # pt of white page around the column (more than the widest crop margin at any DPI)
_ROOM = 400  # pt of page right of the column, for displays wider than it
_OWN_NUMBERING = re.compile(r"\\(tag|notag|nonumber)(?![a-zA-Z])")

# after the font's line: page-per-formula machinery
_MACROS = [
    r"\pagestyle{empty}",
    r"\tracinglostchars=1",
    r"\pdfhorigin=0pt \pdfvorigin=0pt",
    r"\newbox\tpbox",
    r"\makeatletter \newcommand\tpleft{\tagsleft@true\let\veqno\@@leqno} \makeatother % AMS style",
    # ship \tpbox on a page of its own, #1 and #2 from its left and top edges, #3 more to the right
    r"\newcommand\tpship[3]{\pdfpagewidth=\dimexpr\wd\tpbox+#1+#3\relax",
    r"  \pdfpageheight=\dimexpr\ht\tpbox+\dp\tpbox+2\dimexpr#2\relax\relax",
    r"  \shipout\vbox{\kern#2\moveright#1\box\tpbox}}",
]
_OVERFULL = re.compile(r"Overfull \\hbox \(([0-9.]+)pt too wide\)")


def pdf_available() -> bool:
    return shutil.which("pdflatex") is not None and shutil.which("pdftoppm") is not None


@dataclass(frozen=True)
class PageStyle:
    size: float  # font size, pt
    baseline: float  # baselineskip, pt
    width: float  # text column width, pt
    tag: str | None  # the equation number, e.g. "2.14" (printed "(2.14)"); None: unnumbered
    counter: bool  # number through the equation counter rather than \tag
    left: bool  # number at the left margin (AMS style)
    shift: tuple[float, float]  # sub-pixel offset of the column on the page, in pixels
    margins: tuple[float, float, float, float]  # left, top, right, bottom crop margins, px at 96 dpi
    tint: int  # page grey level; 255 is white


def _tag(rng: random.Random) -> tuple[str, bool]:
    n = 1 + min(int(rng.expovariate(1 / 12)), 150)
    kind = rng.random()
    if kind < 0.45:
        return str(n), rng.random() < 0.5
    if kind < 0.75:
        return f"{rng.randint(1, 9)}.{n}", False
    if kind < 0.85:
        return f"{rng.choice('ABCD')}.{n}", False
    if kind < 0.95:
        return f"{n}{rng.choice('abcd')}", False
    return f"S{n}", False


def page_style(latex: str, font: str, dpi: int, numbered: float = NUMBERED) -> PageStyle:
    """The page a formula is drawn on, from a hash of (formula, font, dpi); ``numbered`` is the
    chance of an equation number (a formula with its own ``\\tag``/``\\notag`` never gets one).
    The draws do not depend on ``numbered``, so 0 and 1 give the same page but for the number."""
    seed = hashlib.sha256(f"{font}\0{dpi}\0{latex}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    size, baseline, width = rng.choice(_SINGLE) if rng.random() < 0.6 else rng.choice(_DOUBLE)
    has_number = rng.random() < numbered and not _OWN_NUMBERING.search(latex)
    tag, counter = _tag(rng)
    left = rng.random() < 0.15
    shift = (rng.random(), rng.random())
    margins = (rng.uniform(0, 12), rng.uniform(0, 12), rng.uniform(0, 12), rng.uniform(0, 12))
    tint = 255 if rng.random() < 0.85 else rng.randint(232, 250)
    return PageStyle(size, baseline, width, tag if has_number else None, counter, left, shift, margins, tint)


def _page(i: int, latex: str, style: PageStyle, dpi: int) -> str:
    if style.tag is None:
        display = f"\\begin{{equation*}}\n{latex}\n\\end{{equation*}}"
    elif style.counter:
        display = (
            f"\\setcounter{{equation}}{{{int(style.tag) - 1}}}\\begin{{equation}}\n{latex}\n\\end{{equation}}"
        )
    else:
        display = f"\\begin{{equation*}}\n{latex}\n\\tag{{{style.tag}}}\\end{{equation*}}"
    px = 72 / dpi  # one pixel, in pt
    x, y = _PAD + style.shift[0] * px, _PAD + style.shift[1] * px
    left = r"\tpleft" if style.left else ""
    return (
        rf"{mark(i)}\setbox\tpbox\vbox{{\hsize={style.width}pt\fontsize{{{style.size}}}{{{style.baseline}}}"
        rf"\selectfont{left}\noindent{display}}}"
        rf"\tpship{{{x:.3f}pt}}{{{y:.3f}pt}}{{{_ROOM}pt}}"
    )


def _document(formulas: Sequence[str], styles: Sequence[PageStyle], font: str, dpi: int) -> str:
    lines = [
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb,mathtools,mathrsfs}",
        FONTS[font],
        *_MACROS,
        r"\begin{document}",
        *(_page(i, latex, style, dpi) for i, (latex, style) in enumerate(zip(formulas, styles))),
        r"\end{document}",
    ]
    return "\n".join(lines) + "\n"


def _too_wide(log: str) -> set[int]:
    """Formulas whose display sticks out of its column by more than the page has room for."""
    wide, current = set(), None
    for line in log.splitlines():
        if line.startswith("@@F "):
            current = int(line[4:].strip())
        elif current is not None and (m := _OVERFULL.match(line)) and float(m[1]) > _ROOM - _PAD:
            wide.add(current)
    return wide


def _crop(page: Image.Image, style: PageStyle, dpi: int) -> Image.Image | None:
    box = Image.eval(page, lambda v: 255 - v).getbbox()
    if box is None or box[0] == 0 or box[2] >= page.width:
        return None  # no ink, or a display too wide for the page
    s = dpi / 96
    m = [round(v * s) for v in style.margins]
    left, top = max(box[0] - m[0], 0), max(box[1] - m[1], 0)
    right, bottom = min(box[2] + m[2], page.width), min(box[3] + m[3], page.height)
    img = page.crop((left, top, right, bottom))
    if style.tint < 255:
        img = img.point([v * style.tint // 255 for v in range(256)])
    return img


def _run(
    formulas: Sequence[str], font: str, dpi: int, numbered: float, timeout: float
) -> list[Image.Image | None]:
    styles = [page_style(latex, font, dpi, numbered) for latex in formulas]
    with tempfile.TemporaryDirectory(prefix="texpaste-pdf-") as tmp:
        with open(os.path.join(tmp, "f.tex"), "w", encoding="utf-8") as fh:
            fh.write(_document(formulas, styles, font, dpi))
        run_tool(["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", "f.tex"], tmp, timeout)
        if not os.path.exists(os.path.join(tmp, "f.pdf")):
            raise RenderError("pdflatex produced no output.")
        with open(os.path.join(tmp, "f.log"), encoding="latin-1") as fh:
            log = fh.read()
        failed = failed_indices(log) | _too_wide(log)
        run_tool(["pdftoppm", "-r", str(dpi), "-gray", "f.pdf", "p"], tmp, timeout)
        pages = read_pages(tmp, "p-", ".pgm", len(formulas), failed, "pdflatex")
        return [None if page is None else _crop(page, styles[i], dpi) for i, page in enumerate(pages)]


def render_pdf(
    formulas: Sequence[str],
    *,
    font: str = "cm",
    dpi: int = 96,
    timeout: float | None = None,
    numbered: float = NUMBERED,
) -> RenderResult:
    """Render each formula as a display equation on a PDF page seen at ``dpi`` (96 is a Linux
    viewer at 100 %, 72 macOS); failures are None and counted, never raised.

    ``numbered`` is the share of formulas shown with an equation number (see
    :func:`page_style`); ``timeout`` bounds one pdflatex or pdftoppm call (default: 10 s plus
    50 ms per formula).
    """
    if font not in FONTS:
        raise RenderError(f"Unknown font '{font}'; choose one of {', '.join(FONTS)}.")
    if not pdf_available():
        raise RenderError("pdflatex and pdftoppm are not installed; install TeX Live and poppler-utils.")
    return render_bisecting(formulas, lambda chunk, t: _run(chunk, font, dpi, numbered, t), timeout)
