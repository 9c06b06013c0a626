"""Talking to the daemon: connect, start it when absent, multiplex requests, survive its restarts.

:class:`DaemonConnection` is one socket with concurrent requests and progress notifications.
:class:`DaemonClient` is what ``texpaste serve`` holds: it connects lazily, starts a daemon when none
answers (``texpaste daemon run --detach``; the daemon's lock settles races between editors), and
when the daemon dies mid-session it starts a new one and retries the request once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from texpaste import __version__
from texpaste.errors import DaemonError, DaemonStopping, TexpasteError, from_wire
from texpaste.limits import REQUEST_IDLE_TIMEOUT
from texpaste.service import wire
from texpaste.service.runtime import RuntimeFiles, lock_is_held, peer_uid, runtime_files, use_unix_socket

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, "float | None"], None]
START_TIMEOUT = 60.0  # seconds for a new daemon to answer (it binds before importing torch)
RESTART_INTERVAL = 2.0  # seconds between starts while waiting for one (a start takes ~0.3 s to lock)


class DaemonUnavailable(DaemonError):
    """No daemon answers at the runtime directory's endpoint."""


class DaemonNotResponding(DaemonError):
    """A daemon accepted the connection but did not answer ``hello`` (stopped, or wedged): starting
    another would only wait for its lock, so this is reported at once."""


class DaemonLost(DaemonError):
    """The daemon died while working on a request: retrying the same image could kill the next one."""


HELLO_TIMEOUT = 10.0  # seconds; a live daemon answers hello from its event loop at once


def check_peer_is_us(sock: socket.socket) -> None:
    """Refuse a Unix socket whose other end runs as another user (SO_PEERCRED on Linux,
    LOCAL_PEERCRED on BSD and macOS) before anything, an image above all, is sent to it."""
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise DaemonError(
            f"The texpaste daemon socket is served by another user (uid {uid}); refusing to use it."
        )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:4])


def _is_older(hello: dict[str, Any]) -> bool:
    """Whether the daemon that said ``hello`` is older than this texpaste and is replaced by ours.

    A newer daemon is used as it is when it speaks our protocol: replacing it would make two
    installed versions take turns restarting each other, reloading the model every time."""
    version = hello.get("version")
    if not isinstance(version, str):
        return True
    if version == __version__:
        return hello.get("protocol") != wire.PROTOCOL  # another build of this version
    return _version_key(version) < _version_key(__version__)


def lock_pid(files: RuntimeFiles) -> int | None:
    try:
        text = files.lock.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class DaemonConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._progress: dict[int, ProgressCallback] = {}
        self._heard: dict[int, float] = {}  # when the daemon last said anything about each request
        self._started: set[int] = set()  # requests the daemon has reported working on
        self.hello: dict[str, Any] = {}
        self._reader_task = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def open(cls, files: RuntimeFiles, client: str = "texpaste") -> DaemonConnection:
        """Connect to a running daemon and say hello; :class:`DaemonUnavailable` when none answers.

        Unix sockets: the peer must run as this user. TCP: the daemon must prove it knows the token
        from the owner-only ``daemon.json`` before anything but a random nonce is sent, then we prove it.
        """
        token = None
        if use_unix_socket() and files.socket.is_dir() and not files.socket.is_symlink():
            raise DaemonError(f"The daemon socket path {files.socket} is a directory; remove it.")
        try:
            if use_unix_socket():
                reader, writer = await asyncio.open_unix_connection(str(files.socket), limit=wire.MAX_LINE)
            else:
                info = json.loads(files.tcp_info.read_text())
                token = str(info["token"])
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", int(info["port"]), limit=wire.MAX_LINE
                )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DaemonUnavailable(f"No texpaste daemon is running ({exc.__class__.__name__}).") from exc
        if use_unix_socket():
            try:
                check_peer_is_us(writer.get_extra_info("socket"))
            except DaemonError:
                writer.close()
                raise
        conn = cls(reader, writer)
        try:
            conn.hello = await asyncio.wait_for(conn._hello(token, client), HELLO_TIMEOUT)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            conn.close()
            pid = lock_pid(files)
            raise DaemonNotResponding(
                f"The texpaste daemon{f' (pid {pid})' if pid else ''} is not responding; "
                "stop it with `texpaste daemon stop` or kill it."
            ) from exc
        except DaemonError:
            conn.close()
            raise
        except TexpasteError as exc:
            conn.close()
            raise DaemonUnavailable(f"The texpaste daemon did not answer: {exc}") from exc
        return conn

    async def _hello(self, token: str | None, client: str) -> dict[str, Any]:
        nonce = secrets.token_hex(16)
        hello = await self.call("hello", {"client": client, "nonce": nonce})
        if not isinstance(hello, dict):
            raise DaemonError("The texpaste daemon answered hello out of protocol.")
        if token is not None:
            proof = hello.get("proof")
            if not isinstance(proof, str) or not hmac.compare_digest(
                proof, wire.proof(token, "daemon", nonce)
            ):
                raise DaemonError(
                    "The process on the texpaste daemon's port does not know its token; refusing to use it."
                )
            await self.call("auth", {"proof": wire.proof(token, "client", str(hello.get("nonce")))})
        return hello

    @property
    def version(self) -> str | None:
        return self.hello.get("version") if isinstance(self.hello.get("version"), str) else None

    @property
    def closed(self) -> bool:
        return self._reader_task.done()

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        idle_timeout: float = REQUEST_IDLE_TIMEOUT,
    ) -> Any:
        """Send a request and wait for its result; cancelling the caller cancels it in the daemon.

        ``idle_timeout``: give up (and cancel it there) when the daemon has sent neither the result nor
        any progress for this long; a long model download reports progress, so it is not cut short.
        """
        if self.closed:
            raise DaemonUnavailable("The connection to the texpaste daemon is closed.")
        msg_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting[msg_id] = future
        self._heard[msg_id] = loop.time()
        if progress is not None:
            self._progress[msg_id] = progress
        try:
            await self._write({"id": msg_id, "method": method, "params": params or {}})
            while not future.done():
                await asyncio.wait(
                    {future}, timeout=max(self._heard[msg_id] + idle_timeout - loop.time(), 0.01)
                )
                if not future.done() and loop.time() - self._heard[msg_id] >= idle_timeout:
                    await self._cancel_remote(method, msg_id)
                    raise DaemonError(
                        f"The texpaste daemon did not answer for {idle_timeout:.0f} s; gave the request up."
                    )
            return future.result()
        except asyncio.CancelledError:
            await self._cancel_remote(method, msg_id)
            raise
        finally:
            self._waiting.pop(msg_id, None)
            self._progress.pop(msg_id, None)
            self._heard.pop(msg_id, None)
            self._started.discard(msg_id)

    async def _cancel_remote(self, method: str, msg_id: int) -> None:
        if method == "recognize" and not self.closed:
            with contextlib.suppress(Exception):
                await self._write({"id": f"cancel-{msg_id}", "method": "cancel", "params": {"id": msg_id}})

    async def _write(self, message: dict[str, Any]) -> None:
        try:
            self.writer.write(wire.encode(message))
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise DaemonUnavailable(f"The texpaste daemon went away ({exc.__class__.__name__}).") from exc

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("daemon sent a malformed line")
                    continue
                if not isinstance(message, dict):
                    continue
                if message.get("method") == "progress":
                    params = message.get("params") if isinstance(message.get("params"), dict) else {}
                    if params.get("id") in self._heard:
                        self._heard[params["id"]] = asyncio.get_running_loop().time()
                        self._started.add(params["id"])
                    callback = self._progress.get(params.get("id"))
                    if callback is not None:
                        callback(str(params.get("message", "")), params.get("percentage"))
                    continue
                future = self._waiting.get(message.get("id"))
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(from_wire(message["error"]))
                else:
                    future.set_result(message.get("result"))
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            for msg_id, future in self._waiting.items():
                if future.done():
                    continue
                if msg_id in self._started:  # it died working on this: maybe this very image killed it
                    future.set_exception(
                        DaemonLost(
                            "The texpaste daemon stopped while working on this request (killed, or out of memory); "
                            "it is not tried again with the same image."
                        )
                    )
                else:
                    future.set_exception(
                        DaemonUnavailable("The texpaste daemon went away before starting the request.")
                    )

    def close(self) -> None:
        self._reader_task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()


def start_daemon(args: list[str], files: RuntimeFiles) -> None:
    """Launch ``texpaste daemon run --detach`` (it forks into the background and returns at once)."""
    cmd = [sys.executable, "-m", "texpaste", "daemon", "run", "--detach", *args]
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
    }
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        subprocess.Popen(cmd, **kwargs)  # noqa: S603
        return
    try:
        subprocess.run(cmd, timeout=30, check=False, start_new_session=True, **kwargs)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DaemonError(f"Cannot start the texpaste daemon: {exc}.") from exc
    log.info("started a texpaste daemon (%s)", " ".join(cmd))


def last_log_error(files: RuntimeFiles) -> str | None:
    """The daemon log's last error line, to explain a daemon that died while starting."""
    try:
        lines = files.log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
    except OSError:
        return None
    errors = [ln for ln in lines if " ERROR " in ln or " CRITICAL " in ln]
    return errors[-1].split(": ", 1)[-1] if errors else None


class DaemonClient:
    """The thin server's handle on the daemon: lazy connect, start on demand, one retry on loss."""

    def __init__(
        self,
        daemon_args: list[str] | None = None,
        files: RuntimeFiles | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.daemon_args = daemon_args or []
        self._files = files
        self.start_timeout = start_timeout
        self._conn: DaemonConnection | None = None
        self._connecting: asyncio.Lock | None = None

    @property
    def files(self) -> RuntimeFiles:
        if self._files is None:
            self._files = runtime_files()
        return self._files

    async def connection(
        self, start: bool = True, progress: ProgressCallback | None = None
    ) -> DaemonConnection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and not self._conn.closed:
                return self._conn
            try:
                conn = await DaemonConnection.open(self.files)
            except DaemonUnavailable:
                if not start:
                    raise
                conn = await self._start_and_connect(progress)
            if start and _is_older(conn.hello):
                await self._retire(conn)
                conn = await self._start_and_connect(progress)
            if conn.hello.get("protocol") != wire.PROTOCOL:
                conn.close()
                raise DaemonError(
                    f"The running texpaste daemon is version {conn.version}, which this texpaste ({__version__}) "
                    "cannot talk to; update texpaste or stop that daemon with `texpaste daemon stop`."
                )
            self._conn = conn
            return conn

    async def _retire(self, conn: DaemonConnection) -> None:
        """Ask an older daemon to shut down and wait until it has let go of its lock (it first answers
        its own jobs with ``daemon-stopping``, so their clients ask again instead of losing a paste)."""
        log.warning(
            "the running texpaste daemon is version %s, this is %s: replacing it", conn.version, __version__
        )
        with contextlib.suppress(TexpasteError):
            await conn.call("shutdown", idle_timeout=HELLO_TIMEOUT)
        conn.close()
        deadline = time.monotonic() + self.start_timeout
        while await asyncio.to_thread(lock_is_held, self.files.lock):
            if time.monotonic() > deadline:
                raise DaemonError(
                    f"The texpaste daemon of version {conn.version} (pid {conn.hello.get('pid')}) does not stop; "
                    "stop it with `texpaste daemon stop` or kill it."
                )
            await asyncio.sleep(0.05)

    async def _start_and_connect(self, progress: ProgressCallback | None) -> DaemonConnection:
        """Start a daemon and connect to it. While one is still exiting (it holds the lock, so the new one
        steps aside) keep trying: a new one is started as soon as the lock is free, so exactly one runs."""
        if progress:
            progress("Starting the model daemon…", None)
        deadline = time.monotonic() + self.start_timeout
        delay, last_start = 0.05, -1e9
        while True:
            if time.monotonic() - last_start > RESTART_INTERVAL and not await asyncio.to_thread(
                lock_is_held, self.files.lock
            ):
                await asyncio.to_thread(start_daemon, self.daemon_args, self.files)
                last_start = time.monotonic()
            try:
                return await DaemonConnection.open(self.files)
            except DaemonUnavailable as exc:
                if time.monotonic() > deadline:
                    reason = last_log_error(self.files)
                    raise DaemonError(
                        "The texpaste daemon did not start"
                        + (f": {reason}" if reason else f" (see {self.files.log}).")
                    ) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        start: bool = True,
    ) -> Any:
        """A request to the daemon. If the daemon was gone before it began the request, or said it is
        stopping, a fresh one is started and asked once more; if it died while working on it (see
        :class:`DaemonLost`) the error is reported instead, so one bad image cannot kill daemon after daemon."""
        for attempt in (1, 2):
            conn = await self.connection(start=start, progress=progress)
            try:
                return await conn.call(method, params, progress)
            except (DaemonUnavailable, DaemonStopping, DaemonLost) as exc:
                conn.close()
                self._conn = None
                if attempt == 2 or not start or isinstance(exc, DaemonLost):
                    raise
                log.warning("lost the texpaste daemon (%s); asking a new one", exc)
        raise AssertionError("unreachable")

    async def status(self, model: str | None = None, device: str | None = None) -> dict[str, Any] | None:
        """The daemon's status (for ``model``/``device``), or None when none runs (does not start one)."""
        try:
            return await self.call("status", {"model": model, "device": device}, start=False)
        except DaemonUnavailable:
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def call_running(method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
    """Blocking one-shot request to a running daemon (CLI); :class:`DaemonUnavailable` when none."""

    async def go() -> Any:
        conn = await DaemonConnection.open(runtime_files(), client="texpaste-cli")
        try:
            return await asyncio.wait_for(conn.call(method, params), timeout)
        finally:
            conn.close()

    return asyncio.run(go())
