"""Shared fixtures: small random models made by the project, formula images drawn with PIL."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny-test.yaml"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random-weight model directory (seconds to build, milliseconds to run)."""
    from texpaste.model.init import init_model_dir

    return init_model_dir(tmp_path_factory.mktemp("tiny-model"), config=TINY_CONFIG, seed=0)


@pytest.fixture(scope="session")
def tiny_recognizer(tiny_model_dir):
    from texpaste.engine import Recognizer

    return Recognizer.from_directory(tiny_model_dir)


def draw_formula(
    text: str = "x^2 + y = 1", size: tuple[int, int] = (220, 60), *, ink=0, paper=255, mode="L"
) -> Image.Image:
    """A formula-like picture: dark glyphs on a light background (or the reverse)."""
    img = Image.new("L", size, paper)
    ImageDraw.Draw(img).text((10, size[1] // 3), text, fill=ink, font=ImageFont.load_default())
    return img.convert(mode)


@pytest.fixture
def formula_png(tmp_path) -> Path:
    path = tmp_path / "formula.png"
    draw_formula().save(path)
    return path
