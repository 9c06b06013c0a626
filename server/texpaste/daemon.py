"""``texpaste daemon``: one per user, holds the warm model and serves every editor and the CLI.

Exactly one daemon runs per runtime directory: it holds an exclusive ``flock`` on ``daemon.lock``
for its whole life, so when two editors start one at the same moment the second simply exits and
both connect to the first. It listens on an owner-only Unix socket (or, without Unix sockets, on
loopback TCP behind a random token written to an owner-only file), starts loading the default model
at once, batches concurrent requests (:mod:`texpaste.batching`), and exits after ``idle_timeout``
seconds without a recognition so no model process lingers (editors reconnect and restart it). Logs go to ``daemon.log`` and stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any

from . import __version__, wire
from .batching import Batcher, recognize_async
from .errors import Cancelled, RequestError, TexpasteError, to_wire
from .pool import ModelPool
from .runtime import RuntimeFiles, peer_uid, use_unix_socket

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 30 * 60.0


def acquire_lock(path: os.PathLike[str] | str) -> IO[bytes] | None:
    """Open and exclusively lock ``path`` without waiting; None when another process holds it."""
    handle = open(path, "a+b")  # noqa: SIM115 (held for the daemon's lifetime)
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


def setup_logging(files: RuntimeFiles, log_file: str | None, verbose: bool) -> None:
    handler = RotatingFileHandler(log_file or files.log, maxBytes=1_000_000, backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if sys.stderr is not None and sys.stderr.isatty():
        root.addHandler(logging.StreamHandler(sys.stderr))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


ENDPOINT_CHECK_SECONDS = 1.0


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


class Daemon:
    def __init__(self, files: RuntimeFiles, pool: ModelPool, *, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 batch_window: float = 0.015) -> None:  # fmt: skip
        self.files, self.pool, self.idle_timeout, self.batch_window = files, pool, idle_timeout, batch_window
        self.started = time.monotonic()
        self.last_activity = self.started
        self.clients = 0
        self.in_flight = 0
        self.token: str | None = None
        self._stop: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._socket_inode: int | None = None  # of the socket we bound (a cleaner may delete it)
        self._lock_inode: int | None = None  # of the lock file we hold (the directory may be removed)

    # -- lifetime ------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped or idle; 0 also when another daemon already runs (it serves instead)."""
        lock = acquire_lock(self.files.lock)
        if lock is None:
            log.info("another texpaste daemon already runs in %s", self.files.directory)
            return 0
        try:
            lock.seek(0)
            lock.truncate()
            lock.write(f"{os.getpid()}\n".encode())
            lock.flush()
            self._lock_inode = os.fstat(lock.fileno()).st_ino
            asyncio.run(self._main())
        finally:
            self._remove_endpoint()
            lock.close()
        return 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        self.batcher = Batcher(self.pool, window=self.batch_window)
        self._server = await self._listen()
        log.info("texpaste daemon %s (pid %d) listening; idle timeout %s s", __version__, os.getpid(),
                 self.idle_timeout or "none")  # fmt: skip
        self.pool.preload()
        watchdogs = [asyncio.create_task(self._watch_idle()), asyncio.create_task(self._watch_endpoint())]
        try:
            await self._stop.wait()
        finally:
            for task in watchdogs:
                task.cancel()
            self._server.close()
            self.batcher.close()
            log.info("texpaste daemon stopping")

    async def _listen(self) -> asyncio.AbstractServer:
        if use_unix_socket():
            path = self.files.socket
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: we hold the lock, so no live daemon owns it
            old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
            try:
                server = await asyncio.start_unix_server(self._serve_client, path=str(path), limit=wire.MAX_LINE)
            finally:
                os.umask(old)
            path.chmod(0o600)
            self._socket_inode = path.stat().st_ino
            return server
        self.token = secrets.token_hex(32)
        server = await asyncio.start_server(self._serve_client, "127.0.0.1", 0, limit=wire.MAX_LINE)
        port = server.sockets[0].getsockname()[1]
        tmp = self.files.tcp_info.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"port": port, "token": self.token, "pid": os.getpid()}, f)
        os.replace(tmp, self.files.tcp_info)
        return server

    def _remove_endpoint(self) -> None:
        if use_unix_socket() and _inode(self.files.socket) != self._socket_inode:
            return  # not ours (any more): leave it to whoever made it
        for path in (self.files.socket, self.files.tcp_info):
            with contextlib.suppress(OSError):
                path.unlink()

    async def _watch_endpoint(self) -> None:
        """Notice within seconds when a temp cleaner deletes the socket (listen again) or the whole
        runtime directory (exit: the lock no longer keeps a second daemon out, so the next client
        starts one there); otherwise clients would wait for a daemon that can never be reached."""
        if not use_unix_socket():
            return
        while True:
            await asyncio.sleep(ENDPOINT_CHECK_SECONDS)
            if _inode(self.files.lock) != self._lock_inode:
                log.warning("the runtime directory %s or its lock was removed: exiting", self.files.directory)
                assert self._stop is not None
                self._stop.set()
                return
            if _inode(self.files.socket) != self._socket_inode:
                log.warning("the daemon socket %s was removed: listening again", self.files.socket)
                assert self._server is not None
                self._server.close()
                self._server = await self._listen()

    async def _watch_idle(self) -> None:
        if not self.idle_timeout:
            return
        period = min(30.0, max(self.idle_timeout / 4, 0.2))
        while True:
            await asyncio.sleep(period)
            busy = self.in_flight or self.batcher.busy
            if not busy and time.monotonic() - self.last_activity >= self.idle_timeout:
                log.info("idle for %.0f s: exiting", self.idle_timeout)
                assert self._stop is not None
                self._stop.set()
                return

    def _touch(self) -> None:
        """Only recognitions count as activity: status checks or idle connections keep no model alive."""
        self.last_activity = time.monotonic()

    # -- one client ----------------------------------------------------------------------------

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._peer_is_owner(writer):
            writer.close()
            return
        self.clients += 1
        jobs: dict[Any, asyncio.Task] = {}
        authenticated = self.token is None
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, {"id": None, "error": to_wire(RequestError("Message too large."))})
                    break
                except ConnectionError:
                    break
                if not line:
                    break
                try:
                    message = wire.decode(line)
                except RequestError as exc:
                    await self._send(writer, {"id": None, "error": to_wire(exc)})
                    continue
                if not authenticated:
                    token = (message.get("params") or {}).get("token") if message.get("method") == "hello" else None
                    if not isinstance(token, str) or not hmac.compare_digest(token, self.token or ""):
                        log.warning("rejected a connection with a wrong token")
                        break
                    authenticated = True
                if message.get("method") == "recognize":
                    msg_id = message.get("id")
                    if msg_id is None or msg_id in jobs:
                        problem = "needs an id" if msg_id is None else f"id {msg_id!r} is already in use"
                        await self._send(writer, {"id": msg_id, "error": to_wire(RequestError(f"recognize {problem}."))})
                        continue
                    jobs[msg_id] = asyncio.create_task(self._recognize(writer, msg_id, message.get("params")))
                    jobs[msg_id].add_done_callback(lambda _t, i=msg_id: jobs.pop(i, None))
                    continue
                if message.get("method") == "cancel":
                    target = (message.get("params") or {}).get("id")
                    task = jobs.get(target) if isinstance(target, (int, str)) else None
                    if task is not None:
                        task.cancel()
                    await self._reply(writer, message, {"cancelled": task is not None})
                    continue
                await self._handle(writer, message)
        finally:
            for task in list(jobs.values()):
                task.cancel()  # the client went away: its queued jobs never run
            self.clients -= 1
            with contextlib.suppress(Exception):
                writer.close()

    def _peer_is_owner(self, writer: asyncio.StreamWriter) -> bool:
        sock = writer.get_extra_info("socket")
        if sock is None or sock.family != getattr(socket, "AF_UNIX", None):
            return True  # TCP: the token decides
        uid = peer_uid(sock)
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %d", uid)
            return False
        return True

    async def _handle(self, writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method == "hello":
            await self._reply(writer, message, {"version": __version__, "pid": os.getpid()})
        elif method == "status":
            params = message.get("params") if isinstance(message.get("params"), dict) else {}
            model, device = params.get("model"), params.get("device")
            if not all(v is None or isinstance(v, str) for v in (model, device)):
                await self._reply(writer, message, error=RequestError("status: model and device must be strings."))
                return
            await self._reply(writer, message, self.status(model, device))
        elif method == "shutdown":
            await self._reply(writer, message, {"stopping": True})
            assert self._stop is not None
            self._stop.set()
        else:
            await self._reply(writer, message, error=RequestError(f"Unknown method {method!r}."))

    async def _recognize(self, writer: asyncio.StreamWriter, msg_id: Any, params: Any) -> None:
        self.in_flight += 1
        self._touch()

        async def progress(text: str, pct: float | None) -> None:
            await self._send(writer, {"method": "progress", "params": {"id": msg_id, "message": text, "percentage": pct}})

        try:
            result = await recognize_async(self.batcher, params, lambda t, p: asyncio.ensure_future(progress(t, p)))
            await self._reply(writer, {"id": msg_id}, result)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._reply(writer, {"id": msg_id}, error=Cancelled("Recognition was cancelled."))
        except TexpasteError as exc:
            await self._reply(writer, {"id": msg_id}, error=exc)
        except Exception as exc:  # a bug: report it, keep serving
            log.exception("recognize crashed")
            await self._reply(writer, {"id": msg_id}, error=TexpasteError(f"Recognition failed unexpectedly: {exc}."))
        finally:
            self.in_flight -= 1
            self._touch()

    async def _reply(self, writer: asyncio.StreamWriter, request: dict[str, Any], result: Any = None,
                     error: TexpasteError | None = None) -> None:  # fmt: skip
        out: dict[str, Any] = {"id": request.get("id")}
        if error is not None:
            out["error"] = to_wire(error)
        else:
            out["result"] = result
        await self._send(writer, out)

    async def _send(self, writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        if writer.is_closing():
            return
        try:
            writer.write(wire.encode(message))
            await writer.drain()
        except (ConnectionError, RuntimeError):
            pass  # the client went away; its tasks are being cancelled

    def status(self, model: str | None = None, device: str | None = None) -> dict[str, Any]:
        endpoint = str(self.files.socket) if self.token is None else str(self.files.tcp_info)
        return {
            **self.pool.status(model, device),
            "pid": os.getpid(),
            "version": __version__,
            "socket": endpoint,
            "clients": self.clients,
            "uptime": round(time.monotonic() - self.started, 1),
            "idleTimeout": self.idle_timeout,
            "stats": dict(self.batcher.stats),
        }

