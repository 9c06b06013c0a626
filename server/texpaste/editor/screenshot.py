"""Take an interactive region screenshot with the platform's tool, for "paste from a screenshot".

The one place the OS screenshot tools are driven (the clients only ask the language server, which
runs on the editor's machine). Tools are tried in the order of :data:`TOOLS` for the session found
(macOS, Wayland before X11: XWayland also sets DISPLAY); the ``screenshotCommand`` setting overrides
the choice. A ``%f`` argument is the output file, else the PNG comes on stdout. The command runner
and the environment are injectable, so every branch is testable without a screen.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from texpaste.editor.clipboard import is_wsl
from texpaste.errors import ClipboardError
from texpaste.limits import MAX_IMAGE_BYTES

TIMEOUT_S = 120.0  # the user picks the region: allow time


@dataclass(frozen=True)
class Tool:
    name: str
    session: str  # mac | wayland | x11
    command: tuple[str, ...]  # %f: the output file; without it the PNG comes on stdout
    needs: tuple[str, ...] = ()  # executables beyond command[0]
    region_picker: tuple[str, ...] = ()  # run first; its stdout replaces %r (grim -g REGION)


TOOLS = (
    Tool("screencapture", "mac", ("screencapture", "-i", "-x", "%f")),
    Tool("grim+slurp", "wayland", ("grim", "-g", "%r", "%f"), needs=("slurp",), region_picker=("slurp",)),
    Tool("gnome-screenshot", "wayland", ("gnome-screenshot", "-a", "-f", "%f")),
    Tool("spectacle", "wayland", ("spectacle", "-r", "-b", "-n", "-o", "%f")),
    Tool("flameshot", "wayland", ("flameshot", "gui", "--raw")),
    Tool("maim", "x11", ("maim", "-s", "%f")),
    Tool("flameshot", "x11", ("flameshot", "gui", "--raw")),
    Tool("gnome-screenshot", "x11", ("gnome-screenshot", "-a", "-f", "%f")),
    Tool("spectacle", "x11", ("spectacle", "-r", "-b", "-n", "-o", "%f")),
    Tool("scrot", "x11", ("scrot", "-s", "%f")),
    Tool("xfce4-screenshooter", "x11", ("xfce4-screenshooter", "-r", "-s", "%f")),
    Tool("import", "x11", ("import", "%f")),
)

# Runs argv, returns (exit code, stdout); raises OSError when it cannot start.
Runner = Callable[[Sequence[str], float], Awaitable[tuple[int, bytes]]]

CANCELLED = "The screenshot was cancelled or failed, so nothing was pasted."


def detect(
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> Tool:
    """The tool to use here; ClipboardError (one sentence) when there is none."""
    env = os.environ if env is None else env
    system = system or platform.system()
    if system == "Darwin":
        sessions = {"mac"}
    elif system == "Windows" or is_wsl():
        raise ClipboardError(
            "No region screenshot tool is known on Windows: press Win+Shift+S, then paste the formula."
        )
    else:
        wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
        sessions = {"wayland"} if wayland else ({"x11"} if env.get("DISPLAY") else set())
    for tool in TOOLS:
        if tool.session in sessions and all(which(exe) for exe in (tool.command[0], *tool.needs)):
            return tool
    if not sessions:
        raise ClipboardError("There is no graphical session to take a screenshot in.")
    raise ClipboardError(
        "No screenshot tool was found: install grim and slurp, maim, flameshot or scrot, "
        "or set texpaste's screenshotCommand."
    )


async def _run(argv: Sequence[str], timeout: float) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:  # a timeout or a cancelled paste: the tool goes too
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return proc.returncode or 0, out


async def capture(
    command: Sequence[str] | None = None,
    run: Runner = _run,
    tool: Tool | None = None,
    timeout: float = TIMEOUT_S,
) -> bytes:
    """The screenshot's image bytes: from ``command`` when given, else from the detected tool."""
    if not command:
        tool = tool or detect()
        command = tool.command
        if tool.region_picker:
            region = (await _checked(run, tool.region_picker, timeout)).decode("utf-8", "replace").strip()
            if not region:
                raise ClipboardError(CANCELLED)
            command = [region if arg == "%r" else arg for arg in command]
    with tempfile.TemporaryDirectory(prefix="texpaste-shot-") as tmp:
        target = Path(tmp) / "shot.png"
        argv = [arg.replace("%f", str(target)) for arg in command]
        out = await _checked(run, argv, timeout)
        if any("%f" in arg for arg in command):
            if not target.is_file():
                raise ClipboardError(CANCELLED)
            if target.stat().st_size > MAX_IMAGE_BYTES:
                raise ClipboardError("The screenshot is larger than texpaste accepts.")
            out = target.read_bytes()
    if not out:
        raise ClipboardError(CANCELLED)
    return out


async def _checked(run: Runner, argv: Sequence[str], timeout: float) -> bytes:
    try:
        code, out = await run(argv, timeout)
    except TimeoutError:
        raise ClipboardError(
            f"The screenshot took longer than {timeout:.0f} s, so nothing was pasted."
        ) from None
    except OSError as exc:
        raise ClipboardError(f"Cannot run the screenshot tool {argv[0]}: {exc.strerror or exc}.") from None
    if code != 0:
        raise ClipboardError(CANCELLED)
    return out
