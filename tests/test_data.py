"""Rendering (real TeX and the mathtext fallback), shards and augmentations."""

from __future__ import annotations

import gzip
import hashlib
import random

import numpy as np
import pytest
from PIL import Image

from texpaste.data.augment import augment
from texpaste.data.build import RenderSettings, read_formulas, render_to_shards
from texpaste.data.mathtext import render_mathtext
from texpaste.data.shards import read_shard, shard_paths
from texpaste.data.tex import render_tex, screen
from texpaste.errors import TexpasteError

GOOD = [
    r"\frac{a}{b}",
    r"e^{i\pi}+1=0",
    r"\sum_{n=1}^{\infty}\frac{1}{n^{2}}=\frac{\pi^{2}}{6}",
    r"\begin{aligned} a&=b\\ c&=d \end{aligned}",
]


def test_tex_renders_good_formulas_and_drops_broken_ones():
    formulas = [
        GOOD[0],
        r"\undefinedmacro{x}",
        GOOD[1],
        r"\frac{1}{2",
        r"\input{/etc/passwd}",
        GOOD[2],
        GOOD[3],
    ]
    result = render_tex(formulas, font="cm", dpi=120)
    assert [img is not None for img in result.images] == [True, False, True, False, False, True, True]
    assert result.failed == 3
    tall = result.images[6]
    assert tall.height > result.images[2].height  # two lines are taller than one
    assert tall.getextrema() == (0, 255)


@pytest.mark.parametrize("font", ["cm", "lmodern", "times", "palatino"])
def test_every_font_renders_and_differs(font):
    img = render_tex([GOOD[2]], font=font, dpi=110).images[0]
    assert img is not None and img.width > 50


def test_screen_rejects_dangerous_or_broken_input():
    assert screen(r"\write18{rm -rf /}") == "forbidden command"
    assert screen(r"a}{b") == "unbalanced braces"
    assert screen(r"\begin{matrix}a\end{array}") == "unbalanced environments"
    assert screen(r"\{ x \}") is None


def test_mathtext_fallback_renders_what_it_can():
    result = render_mathtext([r"\frac{a}{b}", r"\begin{aligned}a\end{aligned}"], font="cm", dpi=100)
    assert result.images[0] is not None and result.images[1] is None


def test_shards_are_deterministic(tmp_path):
    formulas = GOOD * 3 + [f"x_{{{i}}}" for i in range(10)]
    settings = RenderSettings(seed=5, dpi=(100, 140), chunk=6)
    digests = []
    for run in ("a", "b"):
        stats = render_to_shards(formulas, tmp_path / run, 8, settings, shard_size=5, jobs=1)
        assert stats.rendered == 8
        paths = shard_paths(tmp_path / run)
        assert len(paths) == 2
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
    samples = [s for p in shard_paths(tmp_path / "a") for s in read_shard(p)]
    assert len(samples) == 8 and all(100 <= s.dpi <= 140 for s in samples)


def test_read_formulas_reads_gzip_and_names_bad_files(tmp_path):
    with gzip.open(tmp_path / "f.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("a+b\n\n  x^{2}  \n")
    assert read_formulas(tmp_path / "f.txt.gz") == ["a+b", "x^{2}"]
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "fake.gz").write_text("not gzip")
    for bad, words in [
        (tmp_path, "Is a directory"),
        (tmp_path / "missing.txt", "No such file"),
        (tmp_path / "empty.txt", "has no formulas"),
        (tmp_path / "fake.gz", "Cannot read formulas"),
    ]:
        with pytest.raises(TexpasteError, match=words):
            read_formulas(bad)


def test_augmentation_is_a_function_of_the_seed():
    base = render_tex([GOOD[2]], dpi=120).images[0].convert("RGB")
    outs = [augment(base, random.Random(seed)).tobytes() for seed in (1, 1, 2, 3, 4, 5)]
    assert outs[0] == outs[1]
    assert len(set(outs[1:])) > 3


def test_dark_mode_augmentation_really_inverts():
    from texpaste.data.augment import recolour

    base = render_tex([GOOD[0]], dpi=120).images[0]
    dark = recolour(base, random.Random(0), dark=True).convert("L")
    assert int(np.asarray(dark).sum()) / (dark.width * dark.height) < 128
    assert isinstance(dark, Image.Image)
