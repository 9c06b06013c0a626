"""Shared fixtures: small random models made by the project, formula images drawn with PIL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny-test.yaml"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random-weight model directory (seconds to build, milliseconds to run)."""
    from texpaste.model.random_init import init_model_dir

    return init_model_dir(tmp_path_factory.mktemp("tiny-model"), config=TINY_CONFIG, seed=0)


@pytest.fixture(scope="session")
def tiny_recognizer(tiny_model_dir):
    from texpaste.engine.recognizer import Recognizer

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


@pytest.fixture(scope="session", autouse=True)
def private_runtime_dir():
    """Every test talks to daemons in its own runtime directory, never to the user's daemon.

    Short (under /tmp) because Unix socket paths are limited to about 100 bytes.
    """
    path = tempfile.mkdtemp(prefix="tp-", dir="/tmp")
    old = os.environ.get("TEXPASTE_RUNTIME_DIR")
    os.environ["TEXPASTE_RUNTIME_DIR"] = path
    yield Path(path)
    subprocess.run([sys.executable, "-m", "texpaste", "daemon", "stop"], capture_output=True, timeout=60)
    if old is None:
        os.environ.pop("TEXPASTE_RUNTIME_DIR", None)
    else:
        os.environ["TEXPASTE_RUNTIME_DIR"] = old
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def xvfb():
    """A real X server with a real clipboard (Debian xvfb + xclip).

    ``-displayfd`` makes Xvfb pick a free display and report it once it accepts connections,
    so there is no fixed display number to collide on and no readiness polling.
    """
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    assert number, "Xvfb did not start"
    env = {**os.environ, "DISPLAY": f":{number}"}
    env.pop("WAYLAND_DISPLAY", None)
    yield env
    proc.terminate()
    proc.wait(timeout=10)
