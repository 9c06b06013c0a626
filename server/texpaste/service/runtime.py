"""Where the per-user daemon keeps its socket, lock, token and log: an owner-only runtime directory.

``$TEXPASTE_RUNTIME_DIR`` wins (tests, several independent setups); otherwise platformdirs' user
runtime directory (``$XDG_RUNTIME_DIR/texpaste`` on Linux) plus ``texpaste``. The directory is created
``0700`` and refused when it is a symbolic link, another user owns it or others can enter it, because
whoever can reach the socket can make the daemon read files as this user, and whoever owns the
directory can put a daemon of their own there.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from texpaste.errors import DaemonError

# Unix socket paths longer than this (sun_path is 104-108 bytes) cannot be bound.
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class RuntimeFiles:
    directory: Path

    @property
    def socket(self) -> Path:
        return self.directory / "daemon.sock"

    @property
    def lock(self) -> Path:
        return self.directory / "daemon.lock"

    @property
    def tcp_info(self) -> Path:
        """``{"port", "token"}`` when the daemon listens on loopback TCP (no Unix sockets)."""
        return self.directory / "daemon.json"

    @property
    def log(self) -> Path:
        return self.directory / "daemon.log"


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED on Linux,
    LOCAL_PEERCRED on BSD and macOS), or None where the platform cannot tell."""
    if hasattr(socket, "SO_PEERCRED"):
        return struct.unpack(
            "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        )[1]
    if hasattr(socket, "LOCAL_PEERCRED"):  # struct xucred: version, uid, ...
        return struct.unpack_from("Ii", sock.getsockopt(0, socket.LOCAL_PEERCRED, 76))[1]
    return None


def use_unix_socket() -> bool:
    """Unix domain sockets unless the platform lacks them or ``TEXPASTE_DAEMON_TRANSPORT=tcp``."""
    if os.environ.get("TEXPASTE_DAEMON_TRANSPORT", "").lower() == "tcp":
        return False
    return hasattr(socket, "AF_UNIX") and sys.platform != "win32"


def runtime_dir() -> Path:
    env = os.environ.get("TEXPASTE_RUNTIME_DIR")
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))  # the daemon works from /, not from here
    if os.name == "posix" and sys.platform != "darwin":
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        # Without a session runtime dir (ssh, containers): a per-user folder in /tmp, checked on use.
        return Path(xdg) / "texpaste" if xdg else Path(tempfile.gettempdir()) / f"texpaste-{os.getuid()}"
    import platformdirs  # deferred: import-time work stays minimal for the thin server

    base = Path(platformdirs.user_runtime_dir("texpaste", appauthor=False))
    if use_unix_socket() and len(str(base / "daemon.sock")) > _MAX_SOCKET_PATH:
        base = Path(tempfile.gettempdir()) / f"texpaste-{os.getuid()}"
    return base


def runtime_files(create: bool = True) -> RuntimeFiles:
    """The runtime files, with the directory created and checked when ``create``."""
    files = RuntimeFiles(runtime_dir())
    if create:
        ensure_private_dir(files.directory)
    elif os.path.lexists(files.directory):
        check_private_dir(files.directory)  # a client never talks to a daemon in someone else's directory
    if use_unix_socket() and len(str(files.socket)) > _MAX_SOCKET_PATH:
        raise DaemonError(
            f"The runtime directory {files.directory} is too long a path for a Unix socket; "
            "set TEXPASTE_RUNTIME_DIR to a shorter one."
        )
    return files


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (``0700``) or check an existing one (:func:`check_private_dir`)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DaemonError(f"Cannot create the runtime directory {path}: {exc.strerror or exc}.") from exc
    check_private_dir(path)


def check_private_dir(path: Path) -> None:
    """Refuse a runtime directory that is a symbolic link, belongs to another user or is open to
    others (group or world): whoever controls it can impersonate the daemon or read its socket.
    Nothing is ever chmodded (through a link that would change someone else's directory)."""
    if not hasattr(os, "getuid"):
        return  # Windows: the per-user profile directory is already private
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise DaemonError(f"Cannot use the runtime directory {path}: {exc.strerror or exc}.") from exc
    if stat.S_ISLNK(info.st_mode):
        raise DaemonError(f"The runtime directory {path} is a symbolic link; refusing to use it.")
    if not stat.S_ISDIR(info.st_mode):
        raise DaemonError(f"The runtime directory {path} is not a directory.")
    if info.st_uid != os.getuid():
        raise DaemonError(f"The runtime directory {path} belongs to another user; refusing to use it.")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DaemonError(
            f"The runtime directory {path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"make it private with `chmod 700 {path}`."
        )


def acquire_lock(path: os.PathLike[str] | str) -> IO[bytes] | None:
    """Open and exclusively lock ``path`` without waiting; None when another process holds it."""
    try:
        handle = open(path, "a+b")  # noqa: SIM115 (held for the daemon's lifetime)
    except IsADirectoryError as exc:
        raise DaemonError(f"The daemon lock {path} is a directory; remove it.") from exc
    except OSError as exc:
        raise DaemonError(f"Cannot open the daemon lock {path}: {exc.strerror or exc}.") from exc
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def lock_is_held(path: os.PathLike[str] | str) -> bool:
    """Whether a live daemon holds the lock (a probe: takes and releases it when free)."""
    if not os.path.exists(path):
        return False
    handle = acquire_lock(path)
    if handle is None:
        return True
    handle.close()
    return False
