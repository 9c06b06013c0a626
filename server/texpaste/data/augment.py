"""Augmentations that make rendered formulas look like users' screenshots.

Each is a pure function of (image, random.Random): the same seed gives the same picture,
so a training run can be resumed or replayed exactly.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageFilter, ImageOps

RESAMPLE = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def pad_uneven(img: Image.Image, rng: random.Random, max_pad: int = 24) -> Image.Image:
    """White margins of different widths on each side, as a sloppy screen selection leaves."""
    left, top, right, bottom = (rng.randint(0, max_pad) for _ in range(4))
    return ImageOps.expand(img, (left, top, right, bottom), fill=255 if img.mode == "L" else (255, 255, 255))


def tight_crop(img: Image.Image, rng: random.Random, max_cut: int = 2) -> Image.Image:
    """Cut up to ``max_cut`` px off each side: selections that clip the ink slightly."""
    w, h = img.size
    if w < 12 or h < 12:
        return img
    cuts = [rng.randint(0, max_cut) for _ in range(4)]
    return img.crop((cuts[0], cuts[1], w - cuts[2], h - cuts[3]))


def rescale(img: Image.Image, rng: random.Random, low: float = 0.75, high: float = 2.0) -> Image.Image:
    """Zoom levels and HiDPI (2x) screens."""
    f = rng.uniform(low, high)
    w, h = max(1, round(img.width * f)), max(1, round(img.height * f))
    return img.resize((w, h), rng.choice(RESAMPLE))


def _random_colour(rng: random.Random, light: bool) -> tuple[int, int, int]:
    lo, hi = (190, 255) if light else (0, 90)
    return tuple(rng.randint(lo, hi) for _ in range(3))  # type: ignore[return-value]


def recolour(img: Image.Image, rng: random.Random, dark: bool) -> Image.Image:
    """Map ink/background to random colours; ``dark`` gives light ink on a dark background."""
    gray = img.convert("L")
    ink, paper = _random_colour(rng, light=dark), _random_colour(rng, light=not dark)
    return ImageOps.colorize(gray, black=ink, white=paper)


def blur(img: Image.Image, rng: random.Random) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))


def jpeg(img: Image.Image, rng: random.Random) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=rng.randint(35, 90))
    return Image.open(io.BytesIO(buf.getvalue())).convert(img.mode)


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """The training mix: each effect applied with its own probability."""
    if rng.random() < 0.5:
        img = pad_uneven(img, rng)
    if rng.random() < 0.15:
        img = tight_crop(img, rng)
    if rng.random() < 0.3:
        img = rescale(img, rng)
    roll = rng.random()
    if roll < 0.15:
        img = recolour(img, rng, dark=True)
    elif roll < 0.35:
        img = recolour(img, rng, dark=False)
    if rng.random() < 0.2:
        img = blur(img, rng)
    if rng.random() < 0.3:
        img = jpeg(img, rng)
    return img
