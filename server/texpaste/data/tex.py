"""Render LaTeX formulas to images with real TeX (latex + dvipng), many formulas per TeX run.

Each formula is typeset as its own ``\\displaystyle`` box and shipped out as one DVI page;
errors in the TeX log are attributed to the formula that caused them, and those formulas
are dropped (and counted). A chunk whose run fails outright is split in half and retried,
which isolates a pathological formula without losing its neighbours.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from texpaste.errors import RenderError

# Preamble lines per math font family (all from the small Debian texlive packages).
FONTS = {
    "cm": "",
    "lmodern": r"\usepackage{lmodern}",
    "times": r"\usepackage{txfonts}",
    "palatino": r"\usepackage{pxfonts}",
}

# Primitives a formula from the wild must not use: file access, catcode games, definitions.
_FORBIDDEN = re.compile(
    r"\\(input|include|openin|openout|write|immediate|read|special|csname|catcode|def|edef|gdef|xdef|let|"
    r"newcommand|renewcommand|providecommand|DeclareMathOperator|usepackage|documentclass|begin\{document\}|"
    r"end\{document\}|shipout|output|everypar|jobname|loop|repeat|afterassignment|expandafter)(?![a-zA-Z])"
)
_ENV = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}")


def tex_available() -> bool:
    return shutil.which("latex") is not None and shutil.which("dvipng") is not None


def screen(latex: str) -> str | None:
    """Why ``latex`` cannot be sent to TeX safely, or None when it can."""
    if not latex.strip():
        return "empty"
    if _FORBIDDEN.search(latex):
        return "forbidden command"
    depth = 0
    for i, ch in enumerate(latex):
        if ch in "{}" and i > 0 and latex[i - 1] == "\\" and not latex[max(0, i - 2) : i] == "\\\\":
            continue
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth < 0:
            return "unbalanced braces"
    if depth:
        return "unbalanced braces"
    stack = []
    for kind, name in _ENV.findall(latex):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return "unbalanced environments"
    if stack:
        return "unbalanced environments"
    if "$" in latex.replace(r"\$", ""):
        return "math shift inside a formula"
    return None


@dataclass
class RenderResult:
    images: list[Image.Image | None]  # one per input formula; None where it failed
    failed: int


def _document(formulas: Sequence[str], font: str) -> str:
    lines = [
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb,mathtools,mathrsfs}",  # not bm: nested \boldsymbol loops TeX
        FONTS[font],
        r"\pagestyle{empty}",
        r"\tracinglostchars=1",
        r"\begin{document}",
    ]
    for i, latex in enumerate(formulas):
        lines.append(rf"{mark(i)}\sbox0{{$\displaystyle {latex}$}}\shipout\box0")
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def mark(i: int) -> str:
    """TeX code that logs where formula ``i`` begins, so :func:`failed_indices` can blame it."""
    return rf"\typeout{{@@F {i}}}"


def failed_indices(log: str) -> set[int]:
    """Indices of the formulas the TeX log shows an error or a missing glyph for."""
    failed, current = set(), None
    for line in log.splitlines():
        if line.startswith("@@F "):
            current = int(line[4:].strip())
        elif current is not None and (line.startswith("!") or line.startswith("Missing character")):
            failed.add(current)
    return failed


def run_tool(cmd: list[str], cwd: str, timeout: float) -> None:
    """Run one TeX-side program in ``cwd``: no shell escape, file access confined to ``cwd``."""
    env = {**os.environ, "openout_any": "p", "openin_any": "p", "shell_escape": "f"}
    try:
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"{cmd[0]} timed out after {timeout:.0f} s.") from exc


def _run(formulas: Sequence[str], font: str, dpi: int, timeout: float) -> list[Image.Image | None]:
    with tempfile.TemporaryDirectory(prefix="texpaste-tex-") as tmp:
        tex = os.path.join(tmp, "f.tex")
        with open(tex, "w", encoding="utf-8") as fh:
            fh.write(_document(formulas, font))
        run_tool(["latex", "-interaction=nonstopmode", "-no-shell-escape", "f.tex"], tmp, timeout)
        dvi = os.path.join(tmp, "f.dvi")
        if not os.path.exists(dvi):
            raise RenderError("TeX produced no output.")
        with open(os.path.join(tmp, "f.log"), encoding="latin-1") as fh:
            failed = failed_indices(fh.read())
        run_tool(
            [
                "dvipng",
                "-q",
                "-D",
                str(dpi),
                "-T",
                "tight",
                "-bg",
                "White",
                "-fg",
                "Black",
                "-o",
                "p%d.png",
                "f.dvi",
            ],
            tmp,
            timeout,
        )
        pages = read_pages(tmp, "p", ".png", len(formulas), failed, "TeX")
        return [
            img if img is None or img.getbbox() is not None or img.getextrema()[0] < 255 else None
            for img in pages
        ]


def read_pages(
    directory: str, prefix: str, suffix: str, count: int, failed: set[int], program: str
) -> list[Image.Image | None]:
    """The ``count`` numbered page images ``PREFIXn.SUFFIX`` a rasteriser wrote, in page order, as
    gray images; None for the pages of ``failed`` formulas."""
    pages = sorted(
        (int(name[len(prefix) : -len(suffix)]), name)
        for name in os.listdir(directory)
        if name.startswith(prefix) and name.endswith(suffix)
    )
    if len(pages) != count:
        raise RenderError(f"{program} made {len(pages)} pages for {count} formulas.")
    images: list[Image.Image | None] = []
    for i, (_, name) in enumerate(pages):
        if i in failed:
            images.append(None)
            continue
        with open(os.path.join(directory, name), "rb") as fh:
            images.append(Image.open(io.BytesIO(fh.read())).convert("L"))
    return images


def render_tex(
    formulas: Sequence[str], *, font: str = "cm", dpi: int = 150, timeout: float | None = None
) -> RenderResult:
    """Render each formula as display math; failures are None and counted, never raised.

    ``timeout`` bounds one TeX run (default: 10 s plus 50 ms per formula), so a formula that
    sends TeX into a loop costs a few bisection steps, not the whole batch.
    """
    if font not in FONTS:
        raise RenderError(f"Unknown font '{font}'; choose one of {', '.join(FONTS)}.")
    if not tex_available():
        raise RenderError(
            "latex and dvipng are not installed; install TeX Live or use the mathtext renderer."
        )
    return render_bisecting(formulas, lambda chunk, t: _run(chunk, font, dpi, t), timeout)


def render_bisecting(
    formulas: Sequence[str],
    run: Callable[[list[str], float], list[Image.Image | None]],
    timeout: float | None = None,
) -> RenderResult:
    """Screen the formulas and render the safe ones with ``run(chunk, timeout)``, one TeX run
    for all of them; a run that raises :class:`RenderError` is split in half and retried, down
    to single formulas, which then count as failed."""
    images: list[Image.Image | None] = [None] * len(formulas)
    todo = [i for i, f in enumerate(formulas) if screen(f) is None]

    def attempt(idx: list[int]) -> None:
        if not idx:
            return
        try:
            out = run([formulas[i] for i in idx], timeout or 10.0 + 0.05 * len(idx))
        except RenderError:
            if len(idx) == 1:
                return
            half = len(idx) // 2
            attempt(idx[:half])
            attempt(idx[half:])
            return
        for i, img in zip(idx, out):
            images[i] = img

    attempt(todo)
    return RenderResult(images, sum(img is None for img in images))
