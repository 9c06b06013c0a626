"""Where the language server's recognitions run: the shared daemon, or a model inside ``serve``.

Both backends take the ``recognize`` params of docs/protocol.md and return the daemon's result
(``latex``, ``candidates``, ``timings``, ``model``, ``device``); cancelling the awaiting task cancels
the job. Only :class:`InProcessBackend` imports torch (when it starts).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from texpaste.errors import TexpasteError
from texpaste.service.client import DaemonClient, ProgressCallback

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    def start(self) -> None:
        """Begin warming up (start/connect the daemon, or load the model) without waiting."""

    async def recognize(
        self, params: dict[str, Any], progress: ProgressCallback | None
    ) -> dict[str, Any]: ...

    async def status(self, model: str | None, device: str | None) -> dict[str, Any]:
        """The state of ``model`` on ``device`` (None: the default) for this client."""

    def close(self) -> None: ...


class DaemonBackend:
    name = "daemon"

    def __init__(self, client: DaemonClient) -> None:
        self.client = client
        self._warmup: asyncio.Task | None = None
        self.error: str | None = None

    def start(self) -> None:
        async def warm() -> None:
            try:
                await self.client.connection()
                self.error = None
            except TexpasteError as exc:
                self.error = str(exc)
                log.error("%s", exc)

        self._warmup = asyncio.ensure_future(warm())

    async def recognize(self, params: dict[str, Any], progress: ProgressCallback | None) -> dict[str, Any]:
        return await self.client.call("recognize", params, progress)

    async def status(self, model: str | None, device: str | None) -> dict[str, Any]:
        starting = self._warmup is not None and not self._warmup.done()
        st = await self.client.status(model, device)
        if st is None:
            out: dict[str, Any] = {
                "state": "loading" if starting else ("error" if self.error else "idle"),
                "model": None,
                "device": None,
                "daemon": None,
            }
            if self.error:
                out["error"] = self.error
            return out
        daemon_keys = ("pid", "socket", "clients", "uptime", "loads", "idleTimeout", "stats", "version")
        return _summary(st, {k: st.get(k) for k in daemon_keys})

    def close(self) -> None:
        self.client.close()


class InProcessBackend:
    name = "in-process"

    def __init__(self, model: str | None, device: str | None, threads: int | None) -> None:
        from texpaste.engine.store import choose
        from texpaste.service.pool import ModelPool

        self.pool = ModelPool(choose(model).model, device, threads)  # the key requests will name
        self.batcher = None

    def start(self) -> None:
        from texpaste.service.batching import Batcher

        self.pool.preload()
        self.batcher = Batcher(self.pool)

    async def recognize(self, params: dict[str, Any], progress: ProgressCallback | None) -> dict[str, Any]:
        from texpaste.service.batching import recognize_async

        if self.batcher is None:
            self.start()
        return await recognize_async(self.batcher, params, progress)

    async def status(self, model: str | None, device: str | None) -> dict[str, Any]:
        return _summary(self.pool.status(model, device), None)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()


def _summary(st: dict[str, Any], daemon: dict[str, Any] | None) -> dict[str, Any]:
    """``texpaste/status`` from a pool status: state, model, device, daemon, and error when set."""
    out = {k: st.get(k) for k in ("state", "model", "device")}
    out["daemon"] = daemon
    if st.get("error"):
        out["error"] = st["error"]
    return out
