"""Which clipboard and screenshot tools texpaste would use on this machine, and if none, why: for
``texpaste/status`` (the editors' status and ``:checkhealth``) and ``texpaste tools``."""

from __future__ import annotations

import os
import shutil
from typing import Any

from texpaste.editor import clipboard, screenshot
from texpaste.errors import ClipboardError

_EXECUTABLE = {"powershell": "powershell.exe"}


def report(screenshot_command: list[str] | None = None) -> dict[str, Any]:
    """``{"clipboard": {"tool", "path"} | {"problem"}, "screenshot": {...} | {"problem"}}``."""
    out: dict[str, Any] = {}
    backend = clipboard.detect_backend()
    if backend:
        exe = _EXECUTABLE.get(backend, backend)
        out["clipboard"] = {"tool": backend, "path": shutil.which(exe) or exe}
    else:
        reason = clipboard.no_backend_reason(dict(os.environ)).removeprefix("Cannot read the clipboard: ")
        out["clipboard"] = {"problem": reason[0].upper() + reason[1:]}
    if screenshot_command:
        out["screenshot"] = {"tool": "screenshotCommand", "path": " ".join(screenshot_command)}
    else:
        try:
            tool = screenshot.detect()
            out["screenshot"] = {"tool": tool.name, "path": shutil.which(tool.command[0]) or tool.command[0]}
        except ClipboardError as exc:
            out["screenshot"] = {"problem": str(exc)}
    return out
