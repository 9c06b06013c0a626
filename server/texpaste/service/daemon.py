"""``texpaste daemon``: one per user, holds the warm model and serves every editor and the CLI.

Exactly one daemon runs per runtime directory: it holds an exclusive ``flock`` on ``daemon.lock``
for its whole life, so when two editors start one at the same moment the second simply exits and
both connect to the first. It listens on an owner-only Unix socket (or, without Unix sockets, on
loopback TCP behind a random token written to an owner-only file), starts loading the default model
at once, batches concurrent requests (:mod:`texpaste.service.batching`), and exits after ``idle_timeout``
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
from typing import Any

from texpaste import __version__
from texpaste.errors import Busy, Cancelled, DaemonError, DaemonStopping, RequestError, TexpasteError, to_wire
from texpaste.limits import HELLO_LINE_LIMIT, MAX_CONNECTION_JOBS, MAX_CONNECTIONS, MAX_JOBS
from texpaste.service import wire
from texpaste.service.batching import Batcher, recognize_async
from texpaste.service.pool import ModelPool
from texpaste.service.runtime import RuntimeFiles, acquire_lock, peer_uid, use_unix_socket

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 30 * 60.0


def setup_logging(files: RuntimeFiles, log_file: str | None, verbose: bool) -> None:
    handler = RotatingFileHandler(log_file or files.log, maxBytes=1_000_000, backupCount=1, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if sys.stderr is not None and sys.stderr.isatty():
        root.addHandler(logging.StreamHandler(sys.stderr))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


ENDPOINT_CHECK_SECONDS = 1.0
HELLO_TIMEOUT = 10.0  # seconds a TCP connection has to prove the token


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


class Daemon:
    def __init__(
        self,
        files: RuntimeFiles,
        pool: ModelPool,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        batch_window: float = 0.015,
    ) -> None:
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
        self._jobs: set[asyncio.Task] = set()  # every connection's recognitions, waiting or running
        self.stopping = False

    # -- lifetime ------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped or idle; 0 also when another daemon already runs (it serves instead)."""
        os.chdir("/")  # a request's relative paths mean nothing here: requesters send absolute ones
        try:
            lock = acquire_lock(self.files.lock)
        except TexpasteError as exc:
            log.error("%s", exc)  # clients show the log's last error as why no daemon started
            return 1
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
        except TexpasteError as exc:
            log.error("%s", exc)
            return 1
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
        log.info(
            "texpaste daemon %s (pid %d) listening; idle timeout %s s",
            __version__,
            os.getpid(),
            self.idle_timeout or "none",
        )
        self.pool.preload()
        watchdogs = [asyncio.create_task(self._watch_idle()), asyncio.create_task(self._watch_endpoint())]
        try:
            await self._stop.wait()
        finally:
            self.stopping = True
            for task in watchdogs:
                task.cancel()
            self._server.close()
            log.info("texpaste daemon stopping (%d recognitions in flight)", len(self._jobs))
            for task in list(self._jobs):
                task.cancel()  # each answers "daemon-stopping": its client asks the next daemon
            if self._jobs:
                await asyncio.wait(list(self._jobs), timeout=5.0)
            self.batcher.close()

    async def _listen(self) -> asyncio.AbstractServer:
        if use_unix_socket():
            path = self.files.socket
            if path.is_dir() and not path.is_symlink():
                raise DaemonError(f"The daemon socket path {path} is a directory; remove it.")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: we hold the lock, so no live daemon owns it
            old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
            try:
                server = await asyncio.start_unix_server(
                    self._serve_client, path=str(path), limit=wire.MAX_LINE
                )
            finally:
                os.umask(old)
            path.chmod(0o600)
            self._socket_inode = path.stat().st_ino
            return server
        self.token = secrets.token_hex(32)
        # Frames stay small until a connection proves the token (``_authenticate`` lifts the limit).
        server = await asyncio.start_server(self._serve_client, "127.0.0.1", 0, limit=HELLO_LINE_LIMIT)
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
        if not self._peer_is_owner(writer) or self.clients >= MAX_CONNECTIONS or self.stopping:
            writer.close()
            return
        self.clients += 1
        jobs: dict[Any, asyncio.Task] = {}
        try:
            if self.token is not None and not await self._authenticate(reader, writer):
                return
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(
                        writer, {"id": None, "error": to_wire(RequestError("Message too large."))}
                    )
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
                if message.get("method") == "recognize":
                    msg_id = message.get("id")
                    refusal = self._refuse_job(msg_id, jobs)
                    if refusal is not None:
                        await self._reply(writer, message, error=refusal)
                        continue
                    task = asyncio.create_task(self._recognize(writer, msg_id, message.get("params")))
                    jobs[msg_id] = task
                    self._jobs.add(task)
                    task.add_done_callback(lambda t, i=msg_id: (jobs.pop(i, None), self._jobs.discard(t)))
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
                if not self.stopping:
                    task.cancel()  # the client went away: its queued jobs never run
            self.clients -= 1
            with contextlib.suppress(Exception):
                writer.close()

    def _refuse_job(self, msg_id: Any, jobs: dict[Any, asyncio.Task]) -> TexpasteError | None:
        """Why a new recognition cannot be queued (None: it can)."""
        if msg_id is None:
            return RequestError("recognize needs an id.")
        if msg_id in jobs:
            return RequestError(f"recognize id {msg_id!r} is already in use.")
        if self.stopping:
            return DaemonStopping("The texpaste daemon is stopping; ask a new one.")
        if len(jobs) >= MAX_CONNECTION_JOBS:
            return Busy(
                f"Too many recognitions are waiting on this connection ({MAX_CONNECTION_JOBS}); try again shortly."
            )
        if len(self._jobs) >= MAX_JOBS:
            return Busy(f"The texpaste daemon is busy ({MAX_JOBS} recognitions waiting); try again shortly.")
        return None

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """TCP only: prove to the client that we know the token (it sends nothing else before it has
        checked), then have it prove the same; until then at most ``HELLO_LINE_LIMIT`` bytes are read."""
        try:
            hello = wire.decode(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT))
            if hello.get("method") != "hello":
                raise RequestError("hello first")
            nonce = (hello.get("params") or {}).get("nonce")
            if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
                raise RequestError("hello needs a nonce")
            ours = secrets.token_hex(16)
            await self._reply(
                writer,
                hello,
                {**self._hello(), "proof": wire.proof(self.token or "", "daemon", nonce), "nonce": ours},
            )
            auth = wire.decode(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT))
            proof = (auth.get("params") or {}).get("proof") if auth.get("method") == "auth" else None
            if not isinstance(proof, str) or not hmac.compare_digest(
                proof, wire.proof(self.token or "", "client", ours)
            ):
                raise RequestError("wrong proof")
        except (
            RequestError,
            ValueError,
            asyncio.LimitOverrunError,
            ConnectionError,
            TimeoutError,
            asyncio.TimeoutError,
        ) as exc:
            log.warning("rejected a TCP connection that did not prove the token (%s)", exc)
            return False
        reader._limit = wire.MAX_LINE  # type: ignore[attr-defined]  # proven: full-size frames from now on
        await self._reply(writer, auth, {"authenticated": True})
        return True

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
            await self._reply(writer, message, self._hello())
        elif method == "status":
            params = message.get("params") if isinstance(message.get("params"), dict) else {}
            model, device = params.get("model"), params.get("device")
            if not all(v is None or isinstance(v, str) for v in (model, device)):
                await self._reply(
                    writer, message, error=RequestError("status: model and device must be strings.")
                )
                return
            await self._reply(writer, message, self.status(model, device))
        elif method == "shutdown":
            await self._reply(writer, message, {"stopping": True})
            assert self._stop is not None
            self._stop.set()
        else:
            await self._reply(writer, message, error=RequestError(f"Unknown method {method!r}."))

    def _hello(self) -> dict[str, Any]:
        return {"version": __version__, "protocol": wire.PROTOCOL, "pid": os.getpid()}

    async def _recognize(self, writer: asyncio.StreamWriter, msg_id: Any, params: Any) -> None:
        self.in_flight += 1
        self._touch()

        async def progress(text: str, pct: float | None) -> None:
            await self._send(
                writer, {"method": "progress", "params": {"id": msg_id, "message": text, "percentage": pct}}
            )

        try:
            result = await recognize_async(
                self.batcher, params, lambda t, p: asyncio.ensure_future(progress(t, p))
            )
            await self._reply(writer, {"id": msg_id}, result)
        except asyncio.CancelledError:
            # stopping: a retryable error, so the paste is asked of a fresh daemon instead of vanishing
            error = (
                DaemonStopping("The texpaste daemon stopped before finishing; ask a new one.")
                if self.stopping
                else Cancelled("Recognition was cancelled.")
            )
            with contextlib.suppress(Exception):
                await self._reply(writer, {"id": msg_id}, error=error)
        except TexpasteError as exc:
            await self._reply(writer, {"id": msg_id}, error=exc)
        except Exception as exc:  # a bug: report it, keep serving
            log.exception("recognize crashed")
            await self._reply(
                writer, {"id": msg_id}, error=TexpasteError(f"Recognition failed unexpectedly: {exc}.")
            )
        finally:
            self.in_flight -= 1
            self._touch()

    async def _reply(
        self,
        writer: asyncio.StreamWriter,
        request: dict[str, Any],
        result: Any = None,
        error: TexpasteError | None = None,
    ) -> None:
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
