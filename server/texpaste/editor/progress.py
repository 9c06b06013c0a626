"""``window/workDoneProgress`` for one recognition, with cancellation from the editor."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from texpaste.editor.server import TexpasteServer

log = logging.getLogger(__name__)


class Progress:
    """``window/workDoneProgress`` for one job, when the client supports it; cancel stops ``task``."""

    def __init__(self, server: TexpasteServer) -> None:
        self.server = server
        self.task: asyncio.Task | None = None
        self.cancelled = False
        caps = server.client_capabilities.window
        self.enabled = bool(caps and caps.work_done_progress)
        self.token = str(uuid.uuid4())
        self.begun = False

    async def begin(self, title: str) -> None:
        if not self.enabled:
            return
        wdp = self.server.work_done_progress
        try:
            await wdp.create_async(self.token)
        except Exception as exc:  # the client refused: carry on without progress
            log.info("no progress: %s", exc)
            self.enabled = False
            return
        wdp.begin(
            self.token, types.WorkDoneProgressBegin(title=title, message="Recognising…", cancellable=True)
        )
        self.begun = True
        cancel_future = wdp.tokens.get(self.token)
        if cancel_future is not None:
            cancel_future.add_done_callback(self._on_token_done)

    def _on_token_done(self, future: Any) -> None:
        if future.cancelled():
            self.cancelled = True
            if self.task is not None:
                self.task.cancel()

    def attach(self, task: asyncio.Task) -> None:
        self.task = task
        if self.cancelled:
            task.cancel()

    def report(self, message: str, percentage: float | None = None) -> None:
        if self.begun:
            pct = None if percentage is None else int(max(0, min(100, percentage)))
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=pct)
            )

    def end(self, message: str | None = None) -> None:
        if self.begun:
            self.begun = False
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
