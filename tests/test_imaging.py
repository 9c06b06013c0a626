"""Bad and awkward inputs to texpaste.engine.imaging; every image is drawn or crafted here.

Parity with pix2tex's preprocessing on normal inputs is in test_parity.py.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from texpaste.engine import imaging
from texpaste.errors import ImageError, NoFormulaError

WHITE, BLACK = (1 - imaging.MEAN) / imaging.STD, -imaging.MEAN / imaging.STD  # +1.1904, -4.563


def encode(img: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def formula(size=(300, 80), mode="RGB", background="white", ink="black", text="x^2 + y^2 = z^2", font=30):
    img = Image.new(mode, size, background)
    ImageDraw.Draw(img).text((10, (size[1] - font) // 2), text, fill=ink, font_size=font)
    return img


def png_header_only(width: int, height: int, depth: int = 8) -> bytes:
    """A PNG that declares width x height gray pixels of ``depth`` bits but carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- refused input


def test_not_an_image():
    with pytest.raises(ImageError, match="not an image"):
        imaging.open_image(b"\\documentclass{article} is text, not a picture")


def _within(seconds, fn):
    """fn()'s exception (or None), failing the test if it is still running after ``seconds``."""
    import threading

    box = {}

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    return box.get("exc")


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 20 20\n"


@pytest.mark.parametrize(
    "program",
    [
        b"(TARGET) (w) file dup (pwned) writestring closefile\nshowpage\n",  # Pillow would run Ghostscript on it
        b"{ } loop\n",  # ... which would never return
        None,  # a PDF
    ],
    ids=["eps-writes", "eps-loops", "pdf"],
)
def test_documents_that_need_an_interpreter_are_refused_before_any_parser_runs(program, tmp_path):
    target = tmp_path / "written-by-ghostscript"
    if program is None:
        data = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    else:
        data = EPS + program.replace(b"TARGET", str(target).encode())
    exc = _within(10, lambda: imaging.open_image(data))  # Ghostscript has no time limit in Pillow
    assert isinstance(exc, ImageError) and "not an image" in str(exc)
    assert not target.exists()


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "PCX", "SGI", "ICO"])
def test_formats_beyond_the_documented_six_are_refused(fmt):
    with pytest.raises(ImageError, match=r"not an image \(expected PNG, JPEG, BMP, GIF, TIFF or WebP\)"):
        imaging.open_image(encode(formula(size=(64, 32)), fmt))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_the_documented_formats_open(fmt):
    assert imaging.open_image(encode(formula(size=(64, 32)), fmt)).size == (64, 32)


def test_a_fifo_path_is_refused_without_waiting_for_a_writer(tmp_path):
    import os

    fifo = tmp_path / "f.png"
    os.mkfifo(fifo)
    exc = _within(5, lambda: imaging.open_image(fifo))
    assert isinstance(exc, ImageError) and "not a regular file" in str(exc)


def test_a_device_path_is_refused_without_reading_it():
    exc = _within(5, lambda: imaging.open_image("/dev/zero"))
    assert isinstance(exc, ImageError) and "not a regular file" in str(exc)


def test_reads_stop_at_the_limit(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_BYTES", 1000)

    class Endless(io.RawIOBase):
        requested = 0

        def read(self, n=-1):
            assert n != -1, "an unbounded read"
            Endless.requested += n
            return b"\0" * n

    with pytest.raises(ImageError, match="standard input is too large"):
        imaging.read_image_stream(Endless())
    assert Endless.requested == 1001


@pytest.mark.parametrize(("path", "message"), [("", "path is empty"), ("/tmp/a\0b.png", "NUL character")])
def test_odd_paths_get_one_sentence(path, message):
    with pytest.raises(ImageError, match=message):
        imaging.open_image(path)


def test_deep_images_have_a_lower_pixel_cap():
    with pytest.raises(ImageError, match="more than 8 bits per sample"):
        imaging.open_image(png_header_only(4000, 3000, depth=16))  # 12 Mpx: fine at 8 bits, not at 16
    with pytest.raises(ImageError, match="truncated or corrupt"):  # passes the size check, then has no data
        imaging.open_image(png_header_only(4000, 3000, depth=8))


def test_16_bit_scaling_is_exact_and_needs_no_64_bit_temporaries():
    import tracemalloc

    ramp = np.tile(np.arange(0, 65536, 16, dtype=np.uint16), (1000, 1))  # (1000, 4096): 4 Mpx, 8 MB
    img = Image.fromarray(ramp)  # mode I;16
    tracemalloc.start()
    out = np.asarray(imaging._to_8bit(img))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(out[0], ((ramp[0].astype(np.int64) + 128) // 257).astype(np.uint8))
    assert peak < 10 * ramp.size  # int64 temporaries alone would take 16 bytes a pixel


def test_truncated_png():
    data = encode(formula())
    with pytest.raises(ImageError, match="is truncated or corrupt"):
        imaging.open_image(data[: len(data) // 2])


def test_png_truncated_inside_its_header():
    with pytest.raises(ImageError, match="is truncated or corrupt"):
        imaging.open_image(encode(formula())[:20])


def test_zero_bytes():
    with pytest.raises(ImageError, match="empty"):
        imaging.open_image(b"")


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        imaging.open_image(tmp_path / "nope.png")


def test_too_many_bytes(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_BYTES", 1000)
    with pytest.raises(ImageError, match="too large"):
        imaging.open_image(bytes(2000))


@pytest.mark.parametrize(
    "side",
    [
        7000,  # 49 Mpx: over texpaste's 40 Mpx limit, under Pillow's own bomb warning
        10000,  # 100 Mpx: Pillow would warn (DecompressionBombWarning)
        50000,  # 2.5 Gpx: Pillow would raise (DecompressionBombError)
    ],
)
def test_decompression_bomb_is_refused_before_decoding(side):
    data = png_header_only(side, side)
    assert len(data) < 200
    start = time.perf_counter()
    # had the pixels been decoded, the tiny IDAT would give "truncated", not "too large"
    with pytest.raises(ImageError, match="too large"):
        imaging.open_image(data)
    assert time.perf_counter() - start < 2.0


def test_oversized_pil_image_is_refused():
    with pytest.raises(ImageError, match="7000x7000"):
        imaging.open_image(Image.new("1", (7000, 7000)))


# ---------------------------------------------------------------- images without a formula


def test_one_pixel():
    img = imaging.open_image(encode(Image.new("L", (1, 1), 0)))
    with pytest.raises(NoFormulaError, match="blank"):
        imaging.prepare(img)


def test_all_white():
    with pytest.raises(NoFormulaError, match="No formula found: the image is blank."):
        imaging.prepare(imaging.open_image(encode(Image.new("RGB", (400, 100), "white"))))


def test_all_black():
    # Uniform, like all-white: after pix2tex's min-max stretch nothing stands out as ink
    # (pix2tex itself gets NaN there and crashes in OpenCV).
    with pytest.raises(NoFormulaError, match="blank"):
        imaging.prepare(imaging.open_image(encode(Image.new("RGB", (400, 100), "black"))))


def test_fully_transparent():
    with pytest.raises(NoFormulaError):
        imaging.pad(imaging.open_image(encode(Image.new("RGBA", (50, 50), (0, 0, 0, 0)))))


# ---------------------------------------------------------------- awkward but legal input


def test_animated_gif_uses_first_frame():
    first, second = Image.new("L", (64, 32), 255), Image.new("L", (64, 32), 255)
    ImageDraw.Draw(first).rectangle([2, 2, 10, 20], fill=0)
    ImageDraw.Draw(second).rectangle([40, 2, 60, 30], fill=0)
    data = encode(first.convert("P"), "GIF", save_all=True, append_images=[second.convert("P")], duration=50)
    img = imaging.open_image(data)
    np.testing.assert_array_equal(np.asarray(img.convert("L")), np.asarray(first))
    assert imaging.pad(img).size == (32, 32)  # the 9x19 box of frame 0, padded


def test_animated_png_uses_first_frame():
    frames = [Image.new("RGBA", (40, 40), (255, 255, 255, 255)) for _ in range(2)]
    ImageDraw.Draw(frames[0]).ellipse([5, 5, 15, 15], fill=(0, 0, 0, 255))
    ImageDraw.Draw(frames[1]).rectangle([0, 0, 39, 39], fill=(0, 0, 0, 255))
    img = imaging.open_image(encode(frames[0], save_all=True, append_images=frames[1:], duration=50))
    np.testing.assert_array_equal(np.asarray(img), np.asarray(frames[0]))


def test_huge_screenshot_is_downscaled_not_refused():
    big = formula((6000, 4000), text="E = mc^2", font=400)
    data = encode(big, compress_level=1)
    start = time.perf_counter()
    array = imaging.prepare(imaging.open_image(data))
    elapsed = time.perf_counter() - start
    height, width = array.shape
    assert height <= 192 and width <= 672 and height % 32 == 0 and width % 32 == 0
    assert array.min() == pytest.approx(BLACK, abs=1e-5)
    assert elapsed < 15, f"{elapsed:.1f} s for a 24 Mpx screenshot"


def test_sixteen_bit_gray_is_scaled_not_clipped():
    gray = formula(mode="L", background=255, ink=0)
    deep = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    img = imaging.open_image(encode(deep))
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), np.asarray(gray))
    np.testing.assert_array_equal(np.asarray(imaging.pad(img)), np.asarray(imaging.pad(gray)))


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (60, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    opened = imaging.open_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert opened.size == (20, 60)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK"])
def test_opaque_modes_give_the_same_pad(mode):
    source = Image.new("L", (150, 60), 255)  # pure black and white, so every mode holds it exactly
    ImageDraw.Draw(source).rectangle([10, 10, 70, 40], fill=0)
    ImageDraw.Draw(source).line([(80, 15), (140, 45)], fill=0, width=3)
    img = imaging.open_image(encode(source.convert(mode), "TIFF"))
    assert img.mode == mode
    np.testing.assert_array_equal(np.asarray(imaging.pad(img)), np.asarray(imaging.pad(source)))


def test_palette_transparency_carries_the_ink():
    img = Image.new("P", (120, 40), 0)
    img.putpalette([0, 0, 0, 0, 0, 0] + [0] * 254 * 3)  # both entries black: only alpha differs
    ImageDraw.Draw(img).rectangle([10, 5, 50, 30], fill=1)
    padded = imaging.pad(imaging.open_image(encode(img, transparency=0)))
    assert padded.size == (64, 32)
    assert np.asarray(padded)[:26, :41].max() == 0


# ---------------------------------------------------------------- the pix2tex steps


def test_pad_crops_to_ink_and_pads_right_and_bottom_with_white():
    img = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(img).rectangle([50, 20, 89, 59], fill=0)  # 40x40 of ink
    out = np.asarray(imaging.pad(img))
    assert out.shape == (64, 64)
    assert (out[:40, :40] == 0).all() and (out[40:, :] == 255).all() and (out[:, 40:] == 255).all()


def test_pad_inverts_a_dark_background():
    img = Image.new("L", (100, 50), 20)
    ImageDraw.Draw(img).rectangle([10, 10, 29, 19], fill=220)
    out = np.asarray(imaging.pad(img))
    assert out.shape == (32, 32) and (out[:10, :20] == 0).all()


def test_minmax_size_downscales_by_the_larger_ratio():
    def size(w: int, h: int, min_dimensions=None) -> tuple[int, int]:
        return imaging.minmax_size(Image.new("L", (w, h), 255), min_dimensions=min_dimensions).size

    assert size(2016, 64) == (672, 21)  # 2016/3, 64//3
    assert size(64, 768) == (16, 192)
    assert size(672, 192) == (672, 192)
    assert size(2016, 64, (32, 32)) == (672, 32)  # then padded up to the minimum


def test_minmax_size_pads_small_images_without_upscaling():
    img = Image.new("L", (20, 10), 0)
    out = imaging.minmax_size(img)
    assert out.size == (32, 32)
    arr = np.asarray(out)
    assert (arr[:10, :20] == 0).all() and (arr[10:] == 255).all() and (arr[:, 20:] == 255).all()


def test_normalize():
    img = Image.fromarray(np.array([[255, 0]], dtype=np.uint8))
    out = imaging.normalize(img)
    assert out.dtype == np.float32 and out.shape == (1, 2)
    np.testing.assert_allclose(out[0], [WHITE, BLACK], rtol=1e-6)


def test_prepare_gives_a_model_sized_array():
    array = imaging.prepare(imaging.open_image(encode(formula())))
    assert array.dtype == np.float32 and array.ndim == 2
    assert array.shape[0] % 32 == 0 and array.shape[1] % 32 == 0
    assert array.min() == pytest.approx(BLACK, abs=1e-5) and array.max() == pytest.approx(WHITE, abs=1e-5)


def test_resizer_loop_stops_when_the_width_is_accepted():
    seen = []

    def predict(array: np.ndarray) -> int:
        seen.append(array.shape)
        return array.shape[1]  # happy with any width

    out = imaging.resizer_loop(imaging.open_image(encode(formula())), predict)
    assert len(seen) == 1 and out.shape == seen[0]


def test_resizer_loop_gives_up_after_max_iter():
    calls = []

    def predict(array: np.ndarray) -> int:
        calls.append(array.shape)
        return 32 if array.shape[1] > 32 else 640  # never satisfied

    imaging.resizer_loop(imaging.open_image(encode(formula())), predict, max_iter=4)
    assert len(calls) == 4


def test_resizer_loop_enlarges_to_the_predicted_width():
    shapes = []

    def predict(array: np.ndarray) -> int:
        shapes.append(array.shape)
        return 448

    out = imaging.resizer_loop(imaging.open_image(encode(formula())), predict)
    assert shapes[0][1] < 448 and out.shape[1] <= 448 and out.shape[0] > shapes[0][0]


def test_imaging_does_not_import_torch():
    code = "import sys, texpaste.engine.imaging; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_resizer_loop_height_cannot_explode():
    """A resizer that always asks for the widest image made pix2tex's compounding height explode."""
    from PIL import ImageDraw

    img = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(img).line((5, 20, 35, 20), fill=0, width=3)
    calls = []

    def widest(array):  # a tall candidate is scaled narrow, so "widen it" never converges
        calls.append(array.shape)
        return 672

    out = imaging.resizer_loop(img, widest)
    assert out.shape[0] <= 192 and out.shape[1] <= 672 and len(calls) == 10
