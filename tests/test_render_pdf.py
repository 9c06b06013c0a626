"""The PDF-page renderer: pdflatex display equations rasterised by pdftoppm, cropped like a selection."""

from __future__ import annotations

import pytest
from PIL import Image

from texpaste.data.build import RenderSettings, render_to_shards
from texpaste.data.pdf import FONTS, page_style, render_pdf
from texpaste.data.shards import read_shard, shard_paths

pytestmark = pytest.mark.tex

GOOD = [
    r"\frac{a}{b}",
    r"e^{i\pi}+1=0",
    r"\sum_{n=1}^{\infty}\frac{1}{n^{2}}=\frac{\pi^{2}}{6}",
    r"\begin{aligned} a&=b\\ c&=d \end{aligned}",
]


def ink(img: Image.Image) -> tuple[int, int, int, int]:
    box = Image.eval(img, lambda v: 255 - v).point(lambda v: 255 if v > 128 else 0).getbbox()
    assert box is not None
    return box


@pytest.mark.parametrize("font", FONTS)
def test_every_font_renders(font):
    result = render_pdf(GOOD, font=font, dpi=96)
    assert result.failed == 0
    for img in result.images:
        assert img is not None and img.mode == "L" and img.width > 10
        low, high = img.getextrema()
        assert low < 40 and high > 200
        assert sum(n > 0 for n in img.histogram()) > 8  # anti-aliased grey levels, not binarised


def test_broken_formulas_are_counted_and_their_neighbours_render():
    too_wide = "+".join(f"x_{{{i}}}^{{2}}" for i in range(150))
    formulas = [GOOD[0], r"\notacommand x", GOOD[1], r"\frac{a}{", r"\input{/etc/passwd}", too_wide, GOOD[3]]
    result = render_pdf(formulas, font="cm", dpi=96)
    assert [img is not None for img in result.images] == [True, False, True, False, False, False, True]
    assert result.failed == 4


def test_equation_number_sits_at_the_margin_and_widens_the_crop():
    latex = GOOD[1]
    numbered, plain = page_style(latex, "cm", 96, numbered=1.0), page_style(latex, "cm", 96, numbered=0.0)
    assert numbered.tag and plain.tag is None
    assert numbered.width == plain.width and numbered.margins == plain.margins
    with_number = render_pdf([latex], font="cm", dpi=96, numbered=1.0).images[0]
    without = render_pdf([latex], font="cm", dpi=96, numbered=0.0).images[0]
    # the formula is centred in the column, the number at its edge: the crop spans half a column
    assert with_number.width > without.width / 2 + numbered.width / 2 * 96 / 72 * 0.9
    assert page_style(r"a \tag{7}", "cm", 96, numbered=1.0).tag is None  # a formula's own number wins


def test_page_styles_vary_like_papers_and_are_deterministic():
    styles = [page_style(f"x^{{{i}}}", "lmodern", 110) for i in range(2000)]
    tags = [s.tag for s in styles if s.tag]
    assert 0.25 < len(tags) / len(styles) < 0.35
    assert (
        any("." in t for t in tags)
        and any(t[0].isalpha() for t in tags)
        and any(t[-1].isalpha() for t in tags)
    )
    assert {s.width for s in styles} >= {345, 360, 390, 246}
    assert 0.75 < sum(s.tint == 255 for s in styles) / len(styles) < 0.95
    assert all(0 <= m <= 12 for s in styles for m in s.margins)
    assert page_style("x^{1}", "lmodern", 110) == styles[1]


def test_dpi_scales_the_glyphs():
    latex = GOOD[2]
    low, high = (render_pdf([latex], font="cm", dpi=dpi, numbered=0.0).images[0] for dpi in (72, 144))
    sizes = page_style(latex, "cm", 72).size, page_style(latex, "cm", 144).size  # font size is drawn too
    want = 2 * sizes[1] / sizes[0]
    (l0, t0, r0, b0), (l1, t1, r1, b1) = ink(low), ink(high)
    assert (b1 - t1) / (b0 - t0) == pytest.approx(want, rel=0.1)
    assert (r1 - l1) / (r0 - l0) == pytest.approx(want, rel=0.1)


def test_rendering_is_deterministic():
    first, second = (render_pdf(GOOD, font="txfonts", dpi=120) for _ in range(2))
    assert [img.tobytes() for img in first.images] == [img.tobytes() for img in second.images]


def test_timeouts_fail_the_formulas_not_the_batch():
    result = render_pdf(GOOD[:2], font="cm", dpi=96, timeout=0.001)
    assert result.images == [None, None] and result.failed == 2


def test_build_writes_pdf_shards(tmp_path):
    formulas = GOOD + [f"y_{{{i}}} = x^{{{i}}}" for i in range(6)]
    settings = RenderSettings(renderer="pdf", dpi=(72, 200), chunk=4, seed=3)
    stats = render_to_shards(formulas, tmp_path, 5, settings, jobs=1)
    assert stats.rendered == 5
    samples = [s for p in shard_paths(tmp_path) for s in read_shard(p)]
    assert len(samples) == 5
    assert all(s.font in FONTS and 72 <= s.dpi <= 200 for s in samples)
