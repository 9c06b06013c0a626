"""Clipboard reading: every backend through an injected runner, and the real X clipboard under Xvfb."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from texpaste.editor.clipboard import detect_backend, read_image_bytes
from texpaste.errors import ClipboardError

PNG = b"\x89PNG\r\n\x1a\nfake"


class FakeRunner:
    """Answers commands from a table; records what was asked."""

    def __init__(self, answers: dict[tuple[str, ...], bytes]):
        self.answers, self.calls = answers, []

    def __call__(self, cmd: list[str]) -> bytes:
        self.calls.append(tuple(cmd))
        for key, value in self.answers.items():
            if tuple(cmd[: len(key)]) == key and all(part in cmd for part in key):
                return value
        raise subprocess.CalledProcessError(1, cmd)


def test_wayland_is_checked_before_xwayland(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("texpaste.editor.clipboard.is_wsl", lambda: False)
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert detect_backend(env, "Linux") == "wl-paste"
    assert detect_backend({"DISPLAY": ":0"}, "Linux") == "xclip"
    assert detect_backend({}, "Linux") is None
    assert detect_backend({}, "Windows") == "powershell"


def test_xclip_prefers_png_then_jpeg_then_bmp():
    run = FakeRunner(
        {
            ("xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"): b"TARGETS\nimage/bmp\nimage/jpeg\n",
            ("xclip", "-selection", "clipboard", "-t", "image/jpeg", "-o"): b"JPEGDATA",
        }
    )
    assert read_image_bytes(run, backend="xclip") == b"JPEGDATA"


def test_wl_paste_reads_bmp_as_wslg_offers_it():
    run = FakeRunner(
        {
            ("wl-paste", "--list-types"): b"image/bmp\n",
            ("wl-paste", "--no-newline", "--type", "image/bmp"): b"BM..",
        }
    )
    assert read_image_bytes(run, backend="wl-paste") == b"BM.."


def test_a_copied_image_file_counts(tmp_path):
    image = tmp_path / "shot one.png"
    image.write_bytes(PNG)
    uri = f"file://{str(image).replace(' ', '%20')}\n".encode()
    run = FakeRunner(
        {
            ("xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"): b"TARGETS\ntext/uri-list\n",
            ("xclip", "-selection", "clipboard", "-t", "text/uri-list", "-o"): uri,
        }
    )
    assert read_image_bytes(run, backend="xclip") == PNG


def test_text_only_clipboard_is_one_clear_sentence():
    run = FakeRunner({("xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"): b"TARGETS\nUTF8_STRING\n"})
    with pytest.raises(ClipboardError, match=r"^No image on the clipboard"):
        read_image_bytes(run, backend="xclip")


def test_no_clipboard_tool_says_what_to_install(monkeypatch):
    monkeypatch.setattr("texpaste.editor.clipboard.detect_backend", lambda: None)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ClipboardError, match="install xclip"):
        read_image_bytes(FakeRunner({}))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(ClipboardError, match="install wl-clipboard"):
        read_image_bytes(FakeRunner({}))


def test_no_graphical_session_is_named_as_the_cause(monkeypatch):
    monkeypatch.setattr("texpaste.editor.clipboard.detect_backend", lambda: None)
    monkeypatch.setattr("platform.system", lambda: "Linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ClipboardError, match="no graphical session"):
        read_image_bytes(FakeRunner({}))


def test_cli_reads_the_real_x_clipboard_and_copies_back(xvfb, tiny_model_dir):
    formula = Path(__file__).parent / "data" / "formula.png"
    owner = subprocess.Popen(
        ["xclip", "-selection", "clipboard", "-t", "image/png", "-i", str(formula)], env=xvfb
    )
    try:
        time.sleep(0.3)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "texpaste",
                "recognize",
                "--clipboard",
                "--copy",
                "--model",
                str(tiny_model_dir),
            ],
            capture_output=True,
            text=True,
            env={**xvfb, "TEXPASTE_THREADS": "1"},
            timeout=300,
        )
    finally:
        owner.terminate()
    assert out.returncode == 0, out.stderr
    latex = out.stdout.splitlines()[0]
    time.sleep(0.3)
    pasted = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"], env=xvfb, capture_output=True, text=True
    )
    assert pasted.stdout == latex


def test_webp_gif_and_tiff_images_and_copied_files_of_those_types_are_read(tmp_path):
    run = FakeRunner(
        {
            ("wl-paste", "--list-types"): b"image/webp\ntext/plain\n",
            ("wl-paste", "--no-newline", "--type", "image/webp"): b"RIFFwebp",
        }
    )
    assert read_image_bytes(run, backend="wl-paste") == b"RIFFwebp"
    shot = tmp_path / "eq 3.tiff"
    shot.write_bytes(b"II*\x00tiff")
    uri = f"file://{str(shot).replace(' ', '%20')}\n".encode()
    run = FakeRunner(
        {
            ("xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"): b"TARGETS\ntext/uri-list\n",
            ("xclip", "-selection", "clipboard", "-t", "text/uri-list", "-o"): uri,
        }
    )
    assert read_image_bytes(run, backend="xclip") == b"II*\x00tiff"
