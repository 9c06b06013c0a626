"""Parity with the reference pix2tex 0.1.4 (timm 0.5.4, x-transformers 0.15.0), run from .venv-reference.

One session fixture builds a full-size random model and resizer, draws awkward images and runs
tests/reference/oracle.py once in the reference venv; each test then compares one thing.

Deviations from pix2tex that these tests pin down (see texpaste.engine.imaging):
- a uniform image: pix2tex's ``pad`` divides 0/0 into NaN and then crashes in OpenCV; texpaste
  raises ``NoFormulaError`` (``test_blank_image_is_a_clean_error_where_pix2tex_crashes``);
- 16-bit grayscale: pix2tex's ``convert('LA')`` clips every value above 255 to white, so a 16-bit
  scan comes out blank; texpaste scales to 8 bits, so it matches pix2tex on the 8-bit image;
- EXIF orientation is applied by texpaste's ``open_image`` (pix2tex ignores it; no case here has EXIF).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from texpaste.assets import PIX2TEX_CONFIG
from texpaste.engine import imaging
from texpaste.errors import NoFormulaError
from texpaste.model.config import ModelConfig
from texpaste.model.generate import sample
from texpaste.model.network import Pix2TexModel
from texpaste.model.resizer import build_resizer

pytestmark = pytest.mark.reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_VENV = Path(os.environ.get("REFERENCE_VENV", ROOT / ".venv-reference"))
ORACLE = ROOT / "tests" / "reference" / "oracle.py"
CONFIG = PIX2TEX_CONFIG
ENCODER_SIZES = [(64, 256), (32, 672), (192, 96)]  # (H, W)
GREEDY_STEPS = 20
TOL = 1e-4  # model outputs
INPUT_TOL = 1e-6  # normalised images: albumentations' float32 LUT vs ours differ in the last bit


# ---------------------------------------------------------------- awkward images, drawn here


def _encode(img: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _formula(mode: str, size: tuple[int, int], background, ink, text: str = "f(x) = x^2 + 3y - 1", font=30):
    img = Image.new(mode, size, background)
    ImageDraw.Draw(img).text((12, (size[1] - font) // 2), text, fill=ink, font_size=font)
    return img


def _same(img: Image.Image, fmt: str = "PNG", **params) -> tuple[bytes, bytes]:
    data = _encode(img, fmt, **params)
    return data, data


def _gray16() -> tuple[bytes, bytes]:
    gray = _formula("L", (300, 80), 255, 0)
    wide = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)  # mode I;16
    assert wide.mode == "I;16"
    return _encode(wide), _encode(gray)  # the reference gets the 8-bit image: it clips 16-bit input


def _palette(transparent: bool) -> tuple[bytes, bytes]:
    img = Image.new("P", (280, 80), 0)
    img.putpalette([255, 255, 255, 0, 0, 0, 30, 60, 200] + [0] * (256 - 3) * 3)
    ImageDraw.Draw(img).text((10, 20), "a_n = 2^n", fill=1, font_size=30)
    ImageDraw.Draw(img).text((160, 20), "+ b", fill=2, font_size=30)
    return _same(img, transparency=0) if transparent else _same(img)


def _tiny() -> tuple[bytes, bytes]:
    img = Image.new("L", (5, 3), 255)
    for xy, v in (((1, 1), 0), ((3, 1), 100), ((2, 2), 30)):
        img.putpixel(xy, v)
    return _same(img)


def _tall() -> tuple[bytes, bytes]:
    img = Image.new("L", (40, 900), 255)
    draw = ImageDraw.Draw(img)
    for i, ch in enumerate("x+1=y-2*z/3"):
        draw.text((8, 10 + i * 70), ch, fill=0, font_size=40)
    return _same(img)


def _jpeg_noisy() -> tuple[bytes, bytes]:
    img = np.asarray(_formula("RGB", (320, 90), (250, 250, 250), (20, 20, 20)), dtype=np.float64)
    noisy = img + np.random.default_rng(7).normal(0, 12, img.shape)
    return _same(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), "JPEG", quality=75)


def _screenshot() -> tuple[bytes, bytes]:
    img = Image.new("RGB", (1500, 700), (246, 246, 246))
    draw = ImageDraw.Draw(img)
    draw.line([(0, 40), (1499, 40)], fill=(180, 180, 180), width=2)
    draw.text((100, 250), "\\int_0^1 x^2 dx = 1/3", fill=(10, 10, 10), font_size=110)
    return _same(img)


def _animated() -> tuple[bytes, bytes]:
    frames = [_formula("L", (200, 60), 255, 0, text).convert("P") for text in ("a + b", "c - d")]
    return _same(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


@dataclass(frozen=True)
class Case:
    build: Callable[[], tuple[bytes, bytes]]  # -> (bytes for texpaste, bytes for the reference)
    resize: bool = False  # also compare the resizer loop (a few cases only: each pass is a CNN run)


CASES: dict[str, Case] = {
    "formula_rgb": Case(lambda: _same(_formula("RGB", (360, 90), "white", "black")), resize=True),
    "alpha_only": Case(lambda: _same(_formula("RGBA", (300, 80), (0, 0, 0, 0), (0, 0, 0, 255)))),
    "rgba_opaque": Case(lambda: _same(_formula("RGBA", (300, 80), (255, 255, 240, 255), (90, 0, 0, 255)))),
    "dark_background": Case(lambda: _same(_formula("RGB", (320, 90), (25, 25, 40), (235, 235, 235)))),
    "tiny_5x3": Case(_tiny),
    "wide_2000x40": Case(
        lambda: _same(_formula("L", (2000, 40), 255, 0, "a+b=c " * 40, font=24)), resize=True
    ),
    "tall_40x900": Case(_tall),
    "gray16": Case(_gray16),
    "palette": Case(lambda: _palette(False)),
    "palette_transparent": Case(lambda: _palette(True)),
    "cmyk_tiff": Case(
        lambda: _same(_formula("RGB", (300, 80), "white", (20, 30, 120)).convert("CMYK"), "TIFF")
    ),
    "jpeg_noisy": Case(_jpeg_noisy),
    "bilevel": Case(lambda: _same(_formula("1", (260, 70), 1, 0))),
    "la_gray": Case(lambda: _same(_formula("LA", (260, 70), (200, 255), (40, 255)))),
    "screenshot_1500x700": Case(_screenshot, resize=True),
    "animated_gif": Case(_animated),
}
BLANK = "blank_white"


# ---------------------------------------------------------------- the one reference run


def _randomize(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Give constant-initialised parameters (norm weights/biases, zeroed layers) random values,
    so every parameter influences the outputs being compared."""
    with torch.no_grad():
        for p in module.parameters():
            if bool((p == p.flatten()[0]).all()):
                p.add_(0.1 * torch.randn(p.shape, generator=generator))


def _predict_width(resizer: torch.nn.Module) -> Callable[[np.ndarray], int]:
    def predict(array: np.ndarray) -> int:
        with torch.inference_mode():
            logits = resizer(torch.from_numpy(array)[None, None])
        return (int(logits.argmax(-1)) + 1) * 32

    return predict


def _run_reference(work: Path) -> SimpleNamespace:
    """Build our random model and resizer, draw the images, run the oracle once, load its results."""
    python = REFERENCE_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"reference venv missing ({python}): run scripts/setup-reference.sh first", pytrace=False)
    generator = torch.Generator().manual_seed(1234)

    cfg = ModelConfig.from_yaml(CONFIG)
    torch.manual_seed(0)
    model = Pix2TexModel(cfg).eval()
    _randomize(model, generator)
    resizer = build_resizer(cfg).eval()
    _randomize(resizer, generator)
    torch.save(model.state_dict(), work / "model.pt")
    torch.save(resizer.state_dict(), work / "resizer.pt")

    encoder_inputs = [
        torch.randn(2 if i == 0 else 1, 1, h, w, generator=generator)
        for i, (h, w) in enumerate(ENCODER_SIZES)
    ]
    with torch.inference_mode():
        context = model.encoder(encoder_inputs[0])
    tokens = torch.randint(3, 1175, (2, 12), generator=generator)
    tokens[:, 0] = cfg.bos_token
    resizer_inputs = [
        torch.randn(1, 1, 64, 256, generator=generator),
        torch.randn(1, 1, 192, 672, generator=generator),
    ]

    images, ours = [], {}
    for name, case in CASES.items():
        mine, theirs = case.build()
        path = work / f"{name}.img"
        path.write_bytes(theirs)
        ours[name] = mine
        images.append({"name": name, "path": str(path), "resize": case.resize})
    blank = work / f"{BLANK}.png"
    blank.write_bytes(_encode(Image.new("RGB", (120, 50), "white")))
    images.append({"name": BLANK, "path": str(blank), "resize": False})

    job = {
        "config": str(CONFIG),
        "model_state": str(work / "model.pt"),
        "resizer_state": str(work / "resizer.pt"),
        "encoder_inputs": encoder_inputs,
        "context": context.clone(),
        "tokens": tokens,
        "greedy_steps": GREEDY_STEPS,
        "resizer_inputs": resizer_inputs,
        "images": images,
    }
    torch.save(job, work / "job.pt")
    proc = subprocess.run(
        [str(python), str(ORACLE), str(work / "job.pt"), str(work / "result.pt")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )
    if proc.returncode != 0:
        pytest.fail(
            f"the reference oracle failed (exit {proc.returncode}; re-run scripts/setup-reference.sh if the"
            f" reference venv is stale):\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    ref = torch.load(work / "result.pt", map_location="cpu", weights_only=True)
    return SimpleNamespace(cfg=cfg, model=model, resizer=resizer, job=job, ref=ref, ours=ours)


@pytest.fixture(scope="session")
def parity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    # one thread, like the oracle: on a small shared machine more threads are slower, not faster
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _run_reference(tmp_path_factory.mktemp("parity"))
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- model


def test_reference_runs_its_pinned_versions(parity):
    assert parity.ref["versions"]["timm"] == "0.5.4"
    assert parity.ref["versions"]["torch"] == torch.__version__


def test_state_dict_keys_and_shapes_match_reference(parity):
    ours = {k: list(v.shape) for k, v in parity.model.state_dict().items()}
    theirs = parity.ref["model_shapes"]
    assert sorted(set(ours) ^ set(theirs)) == []
    assert {k for k in ours if ours[k] != theirs[k]} == set()
    assert len(ours) == 260


def test_reference_loads_our_state_dict_strictly(parity):
    assert parity.ref["strict_load_error"] == ""


@pytest.mark.parametrize("index", range(len(ENCODER_SIZES)), ids=[f"{h}x{w}" for h, w in ENCODER_SIZES])
def test_encoder_output_matches_reference(parity, index):
    x = parity.job["encoder_inputs"][index]
    with torch.inference_mode():
        ours = parity.model.encoder(x)
    theirs = parity.ref["encoder_outputs"][index]
    h, w = ENCODER_SIZES[index]
    assert ours.shape == theirs.shape == (x.shape[0], 1 + (h // 16) * (w // 16), parity.cfg.dim)
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=0)


def test_decoder_logits_match_reference(parity):
    with torch.inference_mode():
        ours = parity.model.decoder(parity.job["tokens"], parity.job["context"])
    theirs = parity.ref["logits"]
    assert ours.shape == theirs.shape == (2, 12, parity.cfg.num_tokens)
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=0)


def test_greedy_tokens_match_reference(parity):
    hyps = sample(
        parity.model.decoder,
        parity.job["context"],
        bos=parity.cfg.bos_token,
        eos=parity.cfg.eos_token,
        max_len=GREEDY_STEPS,
        temperature=0.0,
        ignore_eos=True,
    )
    ours = [h.tokens for h in hyps]
    assert ours == parity.ref["greedy_argmax"].tolist()
    assert ours == parity.ref["greedy_generate"].tolist()  # pix2tex's sampler at temperature 1e-8
    assert all(len(t) == GREEDY_STEPS for t in ours)


def test_resizer_keys_and_logits_match_reference(parity):
    ours = {k: list(v.shape) for k, v in parity.resizer.state_dict().items()}
    assert ours == parity.ref["resizer_shapes"]
    assert len(ours) == 80
    assert parity.ref["resizer_strict_load_error"] == ""
    for x, theirs in zip(parity.job["resizer_inputs"], parity.ref["resizer_logits"], strict=True):
        with torch.inference_mode():
            torch.testing.assert_close(parity.resizer(x), theirs, atol=TOL, rtol=0)


# ---------------------------------------------------------------- preprocessing


def _reference(parity, name: str) -> dict:
    ref = parity.ref["images"][name]
    assert "error" not in ref, f"pix2tex failed on {name}: {ref['error']}"
    return ref


@pytest.mark.parametrize("name", list(CASES))
def test_pad_and_minmax_size_match_reference_exactly(parity, name):
    ref = _reference(parity, name)
    first = imaging.pad(imaging.open_image(parity.ours[name]))
    np.testing.assert_array_equal(np.asarray(first), ref["pad"].numpy())
    sized = imaging.minmax_size(first)
    np.testing.assert_array_equal(np.asarray(sized), ref["minmax"].numpy())
    np.testing.assert_array_equal(np.asarray(imaging.pad(sized)), ref["pad2"].numpy())


@pytest.mark.parametrize("name", list(CASES))
def test_prepare_matches_reference_without_resizer(parity, name):
    theirs = _reference(parity, name)["input"].numpy()
    ours = imaging.prepare(imaging.open_image(parity.ours[name]))
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert ours.shape[0] % 32 == 0 and ours.shape[1] % 32 == 0
    np.testing.assert_allclose(ours, theirs, atol=INPUT_TOL, rtol=0)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.resize])
def test_resizer_loop_matches_reference(parity, name):
    theirs = _reference(parity, name)["resized"].numpy()
    ours = imaging.resizer_loop(imaging.open_image(parity.ours[name]), _predict_width(parity.resizer))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=INPUT_TOL, rtol=0)


def test_blank_image_is_a_clean_error_where_pix2tex_crashes(parity):
    # pix2tex: 0/0 -> NaN -> empty ink mask -> cv2.boundingRect(None) raises an OpenCV error
    assert "error" in parity.ref["images"][BLANK]
    with pytest.raises(NoFormulaError, match="blank"):
        imaging.prepare(imaging.open_image(_encode(Image.new("RGB", (120, 50), "white"))))
