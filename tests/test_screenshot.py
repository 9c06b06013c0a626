"""Region screenshots: the tool chosen per session, and what each kind of tool hands back (the OS is
replaced by fakes: a region cannot be picked in a test), plus one real command run end to end."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from texpaste.editor.screenshot import TOOLS, capture, detect
from texpaste.errors import ClipboardError


def which(*present: str):
    return lambda name: f"/usr/bin/{name}" if name in present else None


@pytest.mark.parametrize(
    ("env", "system", "present", "tool"),
    [
        ({}, "Darwin", ("screencapture",), "screencapture"),
        ({"WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}, "Linux", ("grim", "slurp", "maim"), "grim+slurp"),
        ({"WAYLAND_DISPLAY": "w"}, "Linux", ("grim", "spectacle"), "spectacle"),
        ({"DISPLAY": ":0"}, "Linux", ("grim", "slurp", "scrot"), "scrot"),
        ({"DISPLAY": ":0"}, "Linux", ("maim", "flameshot"), "maim"),
        ({"XDG_SESSION_TYPE": "wayland"}, "Linux", ("flameshot",), "flameshot"),
    ],
)
def test_the_tool_per_session(monkeypatch, env, system, present, tool):
    monkeypatch.setattr("texpaste.editor.screenshot.is_wsl", lambda: False)
    assert detect(env, system, which(*present)).name == tool


def test_no_tool_is_one_sentence_that_says_what_to_do(monkeypatch):
    monkeypatch.setattr("texpaste.editor.screenshot.is_wsl", lambda: False)
    with pytest.raises(ClipboardError, match=r"Win\+Shift\+S"):
        detect({}, "Windows", which())
    with pytest.raises(ClipboardError, match="no screenshot tool was found|No screenshot tool was found"):
        detect({"DISPLAY": ":0"}, "Linux", which())
    with pytest.raises(ClipboardError, match="no graphical session"):
        detect({}, "Linux", which("maim"))


class FakeRun:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    async def __call__(self, argv, timeout):
        self.calls.append(list(argv))
        code, out, file_bytes = self.answers(list(argv))
        if file_bytes is not None:
            Path(argv[-1]).write_bytes(file_bytes)
        return code, out


def tool(name):
    return next(t for t in TOOLS if t.name == name)


def test_grim_and_slurp_pick_the_region_then_capture_it_into_a_file():
    run = FakeRun(lambda argv: (0, b"10,20 300x40\n", None) if argv == ["slurp"] else (0, b"", b"PNGBYTES"))
    assert asyncio.run(capture(run=run, tool=tool("grim+slurp"))) == b"PNGBYTES"
    assert run.calls[0] == ["slurp"]
    assert run.calls[1][:3] == ["grim", "-g", "10,20 300x40"] and run.calls[1][3].endswith(".png")


def test_stdout_tools_a_cancelled_selection_and_a_configured_command():
    assert (
        asyncio.run(capture(run=FakeRun(lambda a: (0, b"RAWPNG", None)), tool=tool("flameshot"))) == b"RAWPNG"
    )
    with pytest.raises(ClipboardError, match="cancelled"):
        asyncio.run(capture(run=FakeRun(lambda a: (1, b"", None)), tool=tool("maim")))
    with pytest.raises(ClipboardError, match="cancelled"):  # exit 0 but no file: the user pressed Esc
        asyncio.run(capture(run=FakeRun(lambda a: (0, b"", None)), tool=tool("maim")))
    run = FakeRun(lambda a: (0, b"", None))
    with pytest.raises(ClipboardError, match="cancelled"):
        asyncio.run(capture(run=run, tool=tool("grim+slurp")))  # slurp printed no region
    assert run.calls == [["slurp"]]


def test_a_real_command_writes_the_file_and_a_missing_one_is_one_sentence(tmp_path):
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2].removeprefix('--out='))"
    png = Path(__file__).parent / "data" / "formula.png"
    got = asyncio.run(capture([sys.executable, "-c", script, str(png), "--out=%f"]))
    assert got == png.read_bytes()
    with pytest.raises(ClipboardError, match="Cannot run the screenshot tool no-such-shot-tool"):
        asyncio.run(capture(["no-such-shot-tool", "%f"]))
    with pytest.raises(ClipboardError, match="longer than"):
        asyncio.run(capture([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5))


def test_texpaste_tools_says_which_tools_the_server_would_use(tmp_path):
    import json
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    cmd = [sys.executable, "-m", "texpaste", "tools"]
    out = json.loads(subprocess.run([*cmd, "--json"], env=env, capture_output=True, check=True).stdout)
    assert out["clipboard"]["problem"].startswith("This process has no graphical session")
    assert out["screenshot"] == {"problem": "There is no graphical session to take a screenshot in."}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for exe in ("xclip", "maim"):
        (bin_dir / exe).write_text("#!/bin/sh\n")
        (bin_dir / exe).chmod(0o755)
    env = {**env, "DISPLAY": ":9", "PATH": f"{bin_dir}:{env['PATH']}"}
    text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    assert text == f"clipboard: xclip ({bin_dir}/xclip)\nscreenshot: maim ({bin_dir}/maim)\n"
