"""Glyph scale: how tall a formula's characters are, and rescaling it to the size a model learnt.

A model sees glyphs of the size its training images had; a 2x HiDPI screenshot brings them twice
as tall, a PDF at 96 dpi a third smaller, and recognition degrades with the distance. The glyph
size is estimated from the ink's connected components (8-connected, every pixel with a quarter
of ink or more, so anti-aliased strokes of a 96-dpi render stay whole): the geometric mean of
their heights weighted by their ink, leaving out rules such as fraction bars and minus signs and
specks under two pixels. Weighting by ink keeps dots, commas and primes from pulling the estimate
down; a mean (rather than a median) moves smoothly when one component changes. Connected
components are built from the ink's horizontal runs with numpy (no image-processing library), so
a typical screenshot costs a few milliseconds.

The estimate is scale-equivariant (twice the pixels, twice the height) up to anti-aliasing: on
formulas of several glyphs, renders at 96 and 200 dpi or 1x and 2x agree within 15 %; a formula
of three or four glyphs can be off by up to a third at 96 dpi, where anti-aliasing joins a
superscript to its base. It depends on the formula through which glyphs it has (x-height letters low, capitals,
digits and big operators high); that spread is what training covers, while a 2x screenshot or a
72-dpi PDF is what it corrects.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

INK_LEVEL = 224  # gray levels below this are ink (images come from imaging.pad: dark ink on white)
MIN_HEIGHT = 2  # px; shorter components are specks or rules
MAX_ASPECT = 3.0  # components wider than this many times their height are rules (fraction bars, minus)
MIN_GLYPHS = 2  # fewer glyph-like components than this: no estimate
SCALE_LIMITS = (0.2, 5.0)  # never rescale beyond these factors, whatever the estimate says


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounding-box heights, widths and pixel counts (each (N,)) of the 8-connected components of
    ``mask`` (H, W).

    Runs of ink in each row are the nodes; runs in neighbouring rows that touch (diagonals
    included) are joined by label propagation with pointer jumping, which needs about log2 of the
    tallest component's run chain in numpy passes.
    """
    H, W = mask.shape
    if not mask.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    edges = np.diff(mask.astype(np.int8), axis=1, prepend=0, append=0)  # (H, W + 1)
    rows, starts = np.nonzero(edges == 1)  # row-major order: sorted by row, then column
    _, ends = np.nonzero(edges == -1)  # exclusive ends, same order
    n = rows.size
    # for each run a in row r, the runs b of row r + 1 that touch it: end_b >= start_a, start_b <= end_a
    nxt = rows + 1
    lo = _search_in_row(ends, rows, nxt, starts, side="left")
    hi = _search_in_row(starts, rows, nxt, ends, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), count)
    b = np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    labels = np.arange(n)
    while True:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping: follow labels to their root
        if np.array_equal(new, labels):
            break
        labels = new
    roots, comp = np.unique(labels, return_inverse=True)
    top = np.full(roots.size, H, dtype=np.int64)
    bottom = np.zeros(roots.size, dtype=np.int64)
    left = np.full(roots.size, W, dtype=np.int64)
    right = np.zeros(roots.size, dtype=np.int64)
    np.minimum.at(top, comp, rows)
    np.maximum.at(bottom, comp, rows)
    np.minimum.at(left, comp, starts)
    np.maximum.at(right, comp, ends)
    area = np.bincount(comp, weights=ends - starts).astype(np.int64)
    return bottom - top + 1, right - left, area


def _search_in_row(keys: np.ndarray, key_rows: np.ndarray, rows: np.ndarray, values: np.ndarray, side: str):
    """For each (row, value): the global index where ``value`` would go among that row's ``keys``.

    Within a row run starts and ends increase, so offsetting each key by ``row * big`` makes the
    whole array sorted and one searchsorted answers every row at once."""
    big = int(max(keys.max(), values.max())) + 2
    return np.searchsorted(keys + key_rows * big, values + rows * big, side=side)


def glyph_height(img: Image.Image | np.ndarray) -> float | None:
    """Ink-weighted geometric mean height in pixels of the glyph-like components, or None when too few.

    ``img``: dark ink on a light background (gray ``L`` image or uint8 array), as ``imaging.pad``
    returns it.
    """
    gray = np.asarray(img.convert("L") if isinstance(img, Image.Image) else img)
    heights, widths, area = components(gray < INK_LEVEL)
    glyph = (heights >= MIN_HEIGHT) & (widths <= MAX_ASPECT * heights)
    if glyph.sum() < MIN_GLYPHS:
        return None
    weights = area[glyph] / area[glyph].sum()
    return float(np.exp(weights @ np.log(heights[glyph])))


def rescale_to_glyph_height(img: Image.Image, target: float) -> Image.Image:
    """``img`` resized so its glyphs are ``target`` px tall (unchanged when no estimate can be made).

    Shrinking uses a box filter (each output pixel averages the input pixels it covers, like a
    screen's downscaling); enlarging uses bicubic interpolation.
    """
    height = glyph_height(img)
    if height is None or target <= 0:
        return img
    factor = min(max(target / height, SCALE_LIMITS[0]), SCALE_LIMITS[1])
    if abs(factor - 1) < 0.02:
        return img
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    resample = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
    return img.resize(size, resample)
