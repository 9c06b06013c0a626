"""Read an image from the OS clipboard (and write text to it), one small function per platform.

Detection order follows the README ("Editors"): Windows/WSL -> PowerShell 5.1; macOS -> pngpaste, then
osascript; Wayland (checked before XWayland's DISPLAY) -> wl-paste; X11 -> xclip. PNG, JPEG and
BMP (WSLg), WebP, GIF and TIFF are accepted, and so is a copied image *file* (a file URI or path on the
clipboard). This is the clipboard code of every client: VS Code and Neovim ask the server, which runs
on the editor's machine (``texpaste.insertFormulaFromClipboard``).
The command runner is injectable so every branch is testable without a clipboard.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from texpaste.errors import ClipboardError

IMAGE_TYPES = (  # in order of preference: lossless first
    "image/png",
    "image/jpeg",
    "image/bmp",
    "image/x-bmp",
    "image/webp",
    "image/gif",
    "image/tiff",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
Runner = Callable[[list[str]], bytes]  # returns stdout; raises on failure


def _run(cmd: list[str]) -> bytes:
    return subprocess.run(cmd, capture_output=True, check=True, timeout=10).stdout


def is_wsl() -> bool:
    return "microsoft" in platform.release().lower() or "WSL_DISTRO_NAME" in os.environ


def detect_backend(env: dict[str, str] | None = None, system: str | None = None) -> str | None:
    """``powershell``, ``pngpaste``, ``osascript``, ``wl-paste``, ``xclip`` or None (no way to read)."""
    env = dict(os.environ) if env is None else env
    system = system or platform.system()
    if system == "Windows" or (system == "Linux" and is_wsl() and shutil.which("powershell.exe")):
        return "powershell"
    if system == "Darwin":
        return "pngpaste" if shutil.which("pngpaste") else "osascript"
    if (env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland") and shutil.which("wl-paste"):
        return "wl-paste"
    if env.get("DISPLAY") and shutil.which("xclip"):
        return "xclip"
    return None


def no_backend_reason(env: dict[str, str]) -> str:
    """Why no clipboard tool applies: a missing tool, or no graphical session at all."""
    wayland = bool(env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland")
    if platform.system() == "Linux" and not wayland and not env.get("DISPLAY"):
        return (
            "Cannot read the clipboard: this process has no graphical session (neither DISPLAY nor "
            "WAYLAND_DISPLAY is set), so send the image itself or pass an image file."
        )
    tool = "wl-clipboard (wl-paste)" if wayland else "xclip"
    return f"Cannot read the clipboard: install {tool}, or pass an image file."


def _file_from_uri_list(text: bytes) -> bytes | None:
    """A copied file manager selection: read the first image file it names."""
    for line in text.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(unquote(urlparse(line).path)) if line.startswith("file://") else Path(line)
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            from texpaste.engine.imaging import read_image_file  # regular files only, at most the size limit

            return read_image_file(path)
    return None


def _read_targets(list_cmd: list[str], read_cmd: Callable[[str], list[str]], run: Runner) -> bytes | None:
    try:
        targets = run(list_cmd).decode("utf-8", "replace").split()
    except (OSError, subprocess.SubprocessError):
        return None
    for mime in IMAGE_TYPES:
        if mime in targets:
            return run(read_cmd(mime))
    for mime in ("text/uri-list", "x-special/gnome-copied-files", "text/plain"):
        if mime in targets:
            try:
                found = _file_from_uri_list(run(read_cmd(mime)))
            except (OSError, subprocess.SubprocessError):
                continue
            if found:
                return found
    return None


def read_image_bytes(run: Runner = _run, backend: str | None = None) -> bytes:
    """The clipboard's image as encoded bytes (PNG/JPEG/BMP); ClipboardError when there is none."""
    backend = backend or detect_backend()
    if backend is None:
        raise ClipboardError(no_backend_reason(dict(os.environ)))
    try:
        data = None
        if backend == "xclip":
            data = _read_targets(
                ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"],
                lambda mime: ["xclip", "-selection", "clipboard", "-t", mime, "-o"],
                run,
            )
        elif backend == "wl-paste":
            data = _read_targets(
                ["wl-paste", "--list-types"], lambda mime: ["wl-paste", "--no-newline", "--type", mime], run
            )
        elif backend == "pngpaste":
            data = run(["pngpaste", "-"])
        elif backend in ("osascript", "powershell"):
            data = _read_via_tempfile(backend, run)
    except (OSError, subprocess.SubprocessError):
        data = None
    if not data:
        raise ClipboardError("No image on the clipboard: copy a screenshot of a formula first.")
    return data


def _read_via_tempfile(backend: str, run: Runner) -> bytes | None:
    with tempfile.TemporaryDirectory(prefix="texpaste-clip-") as tmp:
        target = Path(tmp) / "clip.png"
        if backend == "osascript":
            script = (
                f'set f to open for access (POSIX file "{target}") with write permission\n'
                "write (the clipboard as «class PNGf») to f\nclose access f"
            )
            run(["osascript", "-e", script])
        else:
            win_path = target
            if platform.system() == "Linux":  # WSL: PowerShell needs a Windows path
                win_path = Path(run(["wslpath", "-w", str(target)]).decode().strip())
            script = (
                "Add-Type -AssemblyName System.Windows.Forms; "
                "$i = [System.Windows.Forms.Clipboard]::GetImage(); "
                f"if ($i -ne $null) {{ $i.Save('{win_path}', [System.Drawing.Imaging.ImageFormat]::Png) }}"
            )
            run(["powershell.exe", "-NoProfile", "-STA", "-Command", script])
        return target.read_bytes() if target.exists() else None


_COPY_COMMANDS = {
    "xclip": ["xclip", "-selection", "clipboard", "-i"],
    "wl-paste": ["wl-copy"],
    "pngpaste": ["pbcopy"],
    "osascript": ["pbcopy"],
}


def copy_text(text: str, backend: str | None = None) -> None:
    """Put ``text`` on the clipboard; ClipboardError when no mechanism works.

    X11 and Wayland tools keep running to own the selection, so they get no stdout/stderr of
    ours: otherwise a caller reading our output would wait for them forever. Elsewhere pyperclip.
    """
    backend = backend or detect_backend()
    cmd = _COPY_COMMANDS.get(backend or "")
    if cmd and shutil.which(cmd[0]):
        try:
            subprocess.run(
                cmd,
                input=text.encode("utf-8"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=10,
            )
            return
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClipboardError(f"Cannot write to the clipboard with {cmd[0]}: {exc}.") from exc
    import pyperclip

    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException as exc:
        raise ClipboardError(f"Cannot write to the clipboard: {exc}.") from exc
