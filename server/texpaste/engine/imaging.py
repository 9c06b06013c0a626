"""Image decoding and pix2tex's preprocessing: bytes or a file -> PIL image -> normalised (H, W) array.

Pillow and numpy only (no torch): the optional width-predicting resizer is passed in as a
callable. Every function reproduces pix2tex 0.1.4 (``utils.pad``, ``cli.minmax_size``, the
``LatexOCR.__call__`` resize loop, ``test_transform``) pixel for pixel; where pix2tex would crash
or produce NaN, these raise ``ImageError`` / ``NoFormulaError`` instead (docs/compatibility.md §2).
Decoding adds what pix2tex leaves to the caller: size limits, EXIF orientation, 16-bit scaling.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from texpaste.engine.glyphs import rescale_to_glyph_height
from texpaste.errors import ImageError, NoFormulaError
from texpaste.limits import MAX_IMAGE_BYTES, MAX_PIXELS, MAX_PIXELS_DEEP

MAX_BYTES = MAX_IMAGE_BYTES
# The formats texpaste documents. Pillow would also open EPS/PS/PDF (by running Ghostscript, which
# writes files and can loop forever), and dozens of rarely used parsers; none of them runs here.
FORMATS = (
    "PNG",
    "JPEG",
    "BMP",
    "DIB",
    "GIF",
    "TIFF",
    "WEBP",
)  # DIB: a BMP without its file header (clipboards)
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")

MEAN, STD = 0.7931, 0.1738  # pix2tex's test_transform, on 0..1 gray values
MAX_DIMENSIONS = (672, 192)  # (width, height), pix2tex config.yaml
MIN_DIMENSIONS = (32, 32)

_BLANK = "No formula found: the image is blank."
_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")  # PNG, JPEG, GIF, TIFF
_NORMALIZE_LUT = ((np.arange(256) / 255 - MEAN) / STD).astype(np.float32)

ImageSource = bytes | bytearray | memoryview | str | Path | Image.Image


# ---------------------------------------------------------------- decoding


def open_image(source: ImageSource) -> Image.Image:
    """Decode an image safely: size limits first, then pixels, EXIF orientation applied.

    ``source`` is encoded image data (PNG, JPEG, BMP, GIF, TIFF, WebP, ...), a file path or an
    already opened PIL image. Animated images give their first frame. 16-bit and float images
    are scaled to 8 bits (pix2tex would clip them to 255, see ``_to_8bit``); other modes are kept,
    since ``pad`` converts them exactly as pix2tex does.

    Raises:
        ImageError: one sentence saying what is wrong with the input.
    """
    if isinstance(source, Image.Image):
        img = source
    else:
        img = _open_lazily(_read_bytes(source))
    _check_pixels(*img.size, deep=img.mode in _DEEP_MODES)
    try:
        img.load()  # for a multi-frame image: the first frame only
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, zlib errors...
        raise ImageError("The image file is truncated or corrupt.") from exc
    try:
        img = ImageOps.exif_transpose(img)  # always a new, fully decoded image
    except Exception:  # an unreadable EXIF block only loses the orientation
        img = img.copy()
    return _to_8bit(img)


def _read_bytes(source: bytes | bytearray | memoryview | str | Path) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        data = read_image_file(source)
    else:
        raise TypeError(f"open_image() takes bytes, a path or a PIL image, not {type(source).__name__}")
    if not data:
        raise ImageError("The image is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The image is too large ({len(data):,} bytes; the limit is {MAX_BYTES:,}).")
    return data


def read_image_file(source: str | Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``, read without blocking on a FIFO or a
    device and without reading more than the limit (a file can grow after its size was checked)."""
    text = os.fspath(source)
    if not text:
        raise ImageError("The image path is empty.")
    if "\0" in text:
        raise ImageError("The image path contains a NUL character.")
    path = Path(text)
    try:
        # O_NONBLOCK: opening a FIFO with no writer would wait for one forever
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise ImageError(f"The image file {path} does not exist.") from exc
    except OSError as exc:
        raise ImageError(f"The image file {path} cannot be read ({exc.strerror or exc}).") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISDIR(info.st_mode):  # opening a directory read-only succeeds
            raise ImageError(f"{path} is a directory, not an image file.")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(
                f"{path} is not a regular file (a pipe, socket or device cannot be an image file)."
            )
        if info.st_size > MAX_BYTES:
            raise ImageError(
                f"The image file {path} is too large ({info.st_size:,} bytes; the limit is {MAX_BYTES:,})."
            )
        try:
            data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ImageError(f"The image file {path} cannot be read ({exc.strerror or exc}).") from exc
    if len(data) > MAX_BYTES:
        raise ImageError(f"The image file {path} is too large (more than {MAX_BYTES:,} bytes).")
    return data


def read_image_stream(stream) -> bytes:
    """At most ``MAX_BYTES`` of an image from a binary stream (stdin), refusing more."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageError(f"The image on standard input is too large (more than {MAX_BYTES:,} bytes).")
    return data


def _open_lazily(data: bytes) -> Image.Image:
    """Image.open reads only the header; Pillow's own bomb check becomes an ImageError.

    Pillow warns above 89 Mpx and raises above 179 Mpx; the warning is made an error here so
    nothing is logged for an input refused anyway (catch_warnings is process-wide but brief).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"The image is too large: it declares more than {MAX_PIXELS:,} pixels.") from exc
    except UnidentifiedImageError as exc:
        if data.startswith(_SIGNATURES):  # the right magic number, then a broken header
            raise ImageError("The image file is truncated or corrupt.") from exc
        raise ImageError("The data is not an image (expected PNG, JPEG, BMP, GIF, TIFF or WebP).") from exc
    except Exception as exc:  # a header that starts right but breaks off
        raise ImageError("The image file is truncated or corrupt.") from exc


def _check_pixels(width: int, height: int, deep: bool = False) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"The image has no pixels ({width}x{height}).")
    limit = MAX_PIXELS_DEEP if deep else MAX_PIXELS
    if width * height > limit:
        depth = " at more than 8 bits per sample" if deep else ""
        raise ImageError(
            f"The image is too large: {width}x{height} is {width * height:,} pixels{depth}, more than {limit:,}."
        )


def _to_8bit(img: Image.Image) -> Image.Image:
    """High bit depth -> mode L by scaling, where Pillow's ``convert('L')`` would clip at 255.

    Deviation from pix2tex: its ``convert('LA')`` turns a 16-bit scan into an almost white image.
    Mode ``I`` holding only 0..255 is treated as 8-bit; ``F`` in 0..1 is scaled by 255.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(img)  # uint16 or int32: no wider temporaries than the samples need
        if mode == "I" and values.min() >= 0 and values.max() <= 255:
            return Image.fromarray(values.astype(np.uint8))
        values = np.clip(values, 0, 65535).astype(np.uint32)
        values += 128
        values //= 257  # 257*x -> x exactly
        return Image.fromarray(values.astype(np.uint8))
    if mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float32), posinf=255.0, neginf=0.0)
        if values.max() <= 1.0:
            values *= 255
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if mode == "LAB":  # Pillow cannot convert LAB; its L band is the lightness
        return img.getchannel("L")
    return img


# ---------------------------------------------------------------- pix2tex preprocessing


def pad(img: Image.Image, divable: int = 32) -> Image.Image:
    """pix2tex's ``pad``: dark ink on white, cropped to the ink, padded right/bottom to multiples of 32.

    Gray levels come from luminance, or from ``255 - alpha`` when the alpha channel varies
    (transparent PNGs carry the glyphs in alpha). They are stretched to 0..255 and inverted when
    the background is dark (mean <= 128); ink is what lies on the far side of 128 from the mean.

    Same pixels as pix2tex, computed through 256-entry lookup tables so a large screenshot costs
    no float arrays. Deviations: a uniform image raises ``NoFormulaError`` (pix2tex divides 0/0
    and then crashes in OpenCV), and the light/dark decision uses the exact mean where pix2tex uses
    a float sum (they differ only for a mean within ~1e-12 of 128).

    Raises:
        NoFormulaError: the image is uniform, so it holds no ink.
    """
    la = np.asarray(img.convert("LA"))
    alpha = la[..., 1]
    gray = la[..., 0] if alpha.min() == alpha.max() else 255 - alpha  # (H, W) uint8
    lo, hi = int(gray.min()), int(gray.max())
    if lo == hi:
        raise NoFormulaError(_BLANK)

    # pix2tex's per-pixel float64 arithmetic, evaluated once per gray level
    levels = np.arange(256)
    stretched = (levels - lo) / (hi - lo) * 255
    counts = np.bincount(gray.ravel(), minlength=256)
    light_background = 255 * int(counts @ (levels - lo)) > 128 * gray.size * (hi - lo)
    if light_background:
        is_ink, values = stretched < 128, stretched
    else:
        is_ink, values = stretched > 128, 255 - stretched
    # Pillow's float ('F', float32) -> 'L' conversion truncates; stretched values lie in [0, 255]
    to_uint8 = values.astype(np.float32).astype(np.uint8)

    ink = is_ink[gray]
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:  # cannot happen after the stretch; kept as a guard
        raise NoFormulaError(_BLANK)
    crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    canvas = np.full((-(-h // divable) * divable, -(-w // divable) * divable), 255, dtype=np.uint8)
    canvas[:h, :w] = to_uint8[crop]
    return Image.fromarray(canvas)


def minmax_size(
    img: Image.Image,
    max_dimensions: tuple[int, int] | None = MAX_DIMENSIONS,
    min_dimensions: tuple[int, int] | None = MIN_DIMENSIONS,
) -> Image.Image:
    """pix2tex's ``minmax_size``: fit into ``max_dimensions`` (width, height), pad up to ``min_dimensions``.

    Too large: both sides are floor-divided by the larger of the two ratios and the image is
    resized with BILINEAR. Too small: pasted top-left onto a white ``L`` canvas; never upscaled.
    Deviation: a side is never shrunk below 1 px (pix2tex raises for a 100000x32 strip).
    """
    if max_dimensions is not None:
        scale = max(size / limit for size, limit in zip(img.size, max_dimensions, strict=True))
        if scale > 1:
            width, height = (max(1, int(v)) for v in np.floor_divide(img.size, scale))
            img = img.resize((width, height), Image.Resampling.BILINEAR)
    if min_dimensions is not None:
        target = (max(img.width, min_dimensions[0]), max(img.height, min_dimensions[1]))
        if target != img.size:
            # pix2tex pastes at img.getbbox(), which is (0, 0, w, h) whenever it does not crash
            canvas = Image.new("L", target, 255)
            canvas.paste(img, (0, 0))
            img = canvas
    return img


def normalize(img: Image.Image) -> np.ndarray:
    """Gray levels -> the model's input scale: ``(x/255 - 0.7931)/0.1738`` as float32 (H, W)."""
    return _NORMALIZE_LUT[np.asarray(img.convert("L"))]


def prepare(
    img: Image.Image,
    max_dimensions: tuple[int, int] = MAX_DIMENSIONS,
    min_dimensions: tuple[int, int] = MIN_DIMENSIONS,
    glyph_height: float | None = None,
) -> np.ndarray:
    """The model input without the resizer (pix2tex §2.1 steps 2, 3b, 4): a float32 (H, W) array.

    ``pad`` runs twice, as in pix2tex: the second pass re-stretches and re-crops the downscaled image.
    With ``glyph_height`` (px), the cropped image is first rescaled so its glyphs are that tall
    (:mod:`texpaste.engine.glyphs`): the size the model was trained on, whatever the screen's zoom or DPI.
    Without it the pixels are pix2tex's exactly.
    """
    cropped = pad(img)
    if glyph_height:
        cropped = rescale_to_glyph_height(cropped, glyph_height)
    return normalize(pad(minmax_size(cropped, max_dimensions, min_dimensions)))


def resize_width(img: Image.Image, width: int, height: int, ratio: float) -> Image.Image:
    """One resizer step: resize to (width, height), BILINEAR when enlarging (ratio > 1), else LANCZOS."""
    resample = Image.Resampling.BILINEAR if ratio > 1 else Image.Resampling.LANCZOS
    return img.resize((max(1, width), max(1, height)), resample)


def resizer_loop(
    img: Image.Image,
    predict_width: Callable[[np.ndarray], int],
    max_dimensions: tuple[int, int] = MAX_DIMENSIONS,
    min_dimensions: tuple[int, int] = MIN_DIMENSIONS,
    max_iter: int = 10,
) -> np.ndarray:
    """The model input with the resizer (pix2tex §2.1 steps 2, 3a, 4): a float32 (H, W) array.

    ``predict_width`` gets each normalised candidate and returns the width it should have
    (``(argmax + 1) * 32``). The loop stops when a candidate already has that width, else rescales
    the minmax-sized image; as in pix2tex the height compounds (``h = int(h * r)``) and the last
    candidate is returned even if the loop never converged. Deviations: a side never drops below
    1 px, and the compounding height is capped at 8x the largest model side: a resizer that keeps
    asking to widen a narrow image would otherwise grow the height geometrically until the resize
    runs out of memory (pix2tex crashes there; a capped image is scaled into bounds by minmax_size).
    """
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    source = minmax_size(pad(img), max_dimensions, min_dimensions)
    ratio, width, height = 1.0, source.width, source.height
    height_cap = 8 * max(max_dimensions)
    for _ in range(max_iter):
        height = min(int(height * ratio), height_cap)
        candidate = pad(
            minmax_size(resize_width(source, width, height, ratio), max_dimensions, min_dimensions)
        )
        array = normalize(candidate)
        width = int(predict_width(array))
        if width == candidate.width:
            break
        ratio = width / candidate.width
    return array
