"""The KaTeX and MathJax renderers in headless Chromium: screenshots of web pages, failures counted."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texpaste.cli import RENDERER_NAMES
from texpaste.data.build import RENDERERS
from texpaste.data.shards import read_shard, shard_paths
from texpaste.data.web import (
    DARK_THEMES,
    KATEX_FONTS,
    MAX_MARGIN,
    STYLE_GROUPS,
    page_style,
    render_katex,
    render_mathjax,
)
from texpaste.errors import RenderError

pytestmark = pytest.mark.web

RENDER = {"katex": render_katex, "mathjax": render_mathjax}
FORMULAS = [
    r"\frac{a}{b} + \sqrt{x^2 + 1}",
    r"\frac{a",  # a parse error between two good formulas
    r"\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}",
    r"\sum_{n=1}^{N} n = \frac{N(N+1)}{2}",
    r"\alpha_1, \dots, \alpha_n",
]


def luminance(rgb) -> float:
    return float(np.dot(np.asarray(rgb, dtype=float)[..., :3], [0.299, 0.587, 0.114]))


def background(img: Image.Image) -> np.ndarray:
    """The most common colour: the page behind the formula."""
    colours, counts = np.unique(np.asarray(img).reshape(-1, 3), axis=0, return_counts=True)
    return colours[counts.argmax()]


def margins(img: Image.Image) -> tuple[int, int, int, int]:
    """Background pixels between the ink and each edge (left, top, right, bottom)."""
    arr = np.asarray(img).astype(int)
    ink = np.abs(arr - background(img)).max(axis=2) > 0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return cols[0], rows[0], img.width - 1 - cols[-1], img.height - 1 - rows[-1]


def chromium_left() -> list[int]:
    """Processes still running from a render call (their profile lives in its temp dir)."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"texpaste-web-" in Path(f"/proc/{pid}/cmdline").read_bytes():
                left.append(int(pid))
        except OSError:
            continue
    return left


@pytest.fixture(scope="module", params=sorted(RENDER))
def renders(request) -> dict:
    """Per engine: FORMULAS on light pages at 1x and 2x, on dark pages at 1x, and the third one alone."""
    render = RENDER[request.param]
    return {
        "engine": request.param,
        "light": render(FORMULAS, font="light", dpi=96),
        "light2x": render(FORMULAS, font="light", dpi=192),
        "dark": render(FORMULAS, font="dark", dpi=96),
        "alone": render(FORMULAS[2:3], font="light", dpi=96),
    }


def test_formulas_render_as_rgb_and_a_parse_error_counts_as_failed(renders):
    for key in ("light", "light2x", "dark"):
        result = renders[key]
        assert result.failed == 1 and result.images[1] is None
        for i in (0, 2, 3, 4):
            img = result.images[i]
            assert img is not None and img.mode == "RGB" and img.width > img.height / 2 > 5
    assert not chromium_left()


def test_2x_is_twice_the_pixels_of_1x(renders):
    for one, two in zip(renders["light"].images, renders["light2x"].images):
        if one is None:
            continue
        for a, b in ((one.width, two.width), (one.height, two.height)):
            assert abs(b - 2 * a) <= 2 + 0.03 * 2 * a  # glyphs snap to whole pixels a little differently


def test_themes_set_the_page_colours(renders):
    for img in filter(None, renders["light"].images):
        assert luminance(background(img)) > 200
    for img in filter(None, renders["dark"].images):
        assert luminance(background(img)) < 80
        ink = np.asarray(img)[np.abs(np.asarray(img).astype(int) - background(img)).max(axis=2) > 60]
        assert luminance(ink.mean(axis=0)) > 100  # light ink on the dark page


def test_margins_are_uneven_and_bounded(renders):
    seen = [margins(img) for img in filter(None, renders["light"].images)]
    assert all(0 <= m <= MAX_MARGIN + 1 for side in seen for m in side)
    assert len({m for side in seen for m in side}) > 3
    assert len(set(seen)) == len(seen)
    # and over many formulas every margin from none to the widest turns up
    drawn = [page_style(f"x_{{{i}}}", renders["engine"], "mixed").margins for i in range(200)]
    assert {m for side in drawn for m in side} == set(range(MAX_MARGIN + 1))


def test_renders_are_deterministic_and_independent_of_their_neighbours(renders):
    again = RENDER[renders["engine"]](FORMULAS, font="light", dpi=96)
    for a, b in zip(renders["light"].images, again.images):
        assert (a is None and b is None) or a.tobytes() == b.tobytes()
    a, b = np.asarray(renders["light"].images[2]), np.asarray(renders["alone"].images[0])
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() < 1.0


def test_both_engines_are_registered_renderers():
    assert {"katex", "mathjax"} <= set(RENDERERS) & set(RENDERER_NAMES)
    assert RENDERERS["katex"] == (render_katex, KATEX_FONTS) and RENDERERS["mathjax"][0] is render_mathjax


def test_style_groups_set_the_share_of_dark_pages():
    dark_pages = {bg for _, bg in DARK_THEMES}
    for group, share in STYLE_GROUPS.items():
        styles = [page_style(f"y^{{{i}}}", "katex", group) for i in range(300)]
        assert abs(sum(s.bg in dark_pages for s in styles) / 300 - share) < 0.1


@pytest.mark.parametrize(
    "env, words",
    [
        ({"TEXPASTE_NODE": "/nonexistent/node"}, "Node.js"),
        ({"TEXPASTE_CHROMIUM": "/nonexistent/chromium"}, "Chromium"),
        ({"TEXPASTE_WEBRENDER_DIR": "/nonexistent"}, "npm modules"),
    ],
)
def test_a_missing_toolchain_is_one_clear_error(monkeypatch, env, words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RenderError, match=words) as info:
        render_katex(["x"], font="light", dpi=96)
    assert "scripts/setup-render.sh" in str(info.value)


def test_unknown_style_group_is_rejected():
    with pytest.raises(RenderError, match="light, mixed, dark"):
        render_mathjax(["x"], font="cm", dpi=96)


def test_a_timeout_raises_and_leaves_no_browser_behind():
    with pytest.raises(RenderError, match="timed out"):
        render_katex([f"x^{{{i}}} + y_{{{i}}}" for i in range(3000)], font="light", dpi=96, timeout=3)
    assert not chromium_left()


def test_cli_renders_a_katex_shard(tmp_path):
    formulas = tmp_path / "formulas.txt"
    formulas.write_text(
        "\n".join(FORMULAS + [r"e^{i\pi} + 1 = 0", r"\binom{n}{k}", r"\vec{F} = m\vec{a}"]) + "\n"
    )
    out = tmp_path / "shards"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "texpaste",
            "data",
            "render",
            "--renderer",
            "katex",
            "--n",
            "5",
            "--formulas",
            str(formulas),
            "--out",
            str(out),
            "--jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rendered 5 of 5" in proc.stdout
    samples = [s for path in shard_paths(out) for s in read_shard(path)]
    assert len(samples) == 5 and {s.font for s in samples} <= set(STYLE_GROUPS)
    assert all(Image.open(io.BytesIO(s.png)).mode == "RGB" for s in samples)
