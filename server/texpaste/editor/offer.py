"""The better model, when it can be had: offer the official pix2tex weights to a user answered by the
bundled model, download them under ``$/progress`` (verified as ``texpaste models pull`` does), and
remember a "Never" on this machine. The next recognition uses the new model: the default choice is
made afresh for every request, and the daemon loads the model it is asked for, so nothing restarts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from texpaste.editor.progress import Progress
from texpaste.editor.protocol import DECLINE_OFFER, DOWNLOAD_MODEL, command_arguments, optional_str
from texpaste.engine import store
from texpaste.errors import RequestError

if TYPE_CHECKING:
    from texpaste.editor.server import TexpasteServer


def current_offer(ls: TexpasteServer) -> dict[str, Any] | None:
    """The offer for this client: only when its settings name no model and the default fell back."""
    if ls.settings.model or not store.choose(None).notice:
        return None
    return store.model_offer()


def _model_of(args: tuple[Any, ...], command: str) -> str:
    name = optional_str(command_arguments(args, command), "model")
    if name not in store.REGISTRY or store.REGISTRY[name].bundled:
        raise RequestError(f"{command} takes a model to download: {store.DEFAULT_MODEL}.")
    return name


async def download(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """``texpaste.downloadModel {model}``: fetch and verify it, with the bytes as a percentage."""
    name = _model_of(args, DOWNLOAD_MODEL)
    progress = Progress(ls)
    await progress.begin(f"texpaste: downloading {name}")
    loop = asyncio.get_running_loop()
    spec = store.REGISTRY[name]
    total = sum(f.size_hint or 0 for f in spec.files if f.local_copy is None) or None
    done: dict[str, int] = {}

    def report(file: str, sent: int, size: int | None) -> None:
        done[file] = sent
        pct = 100 * sum(done.values()) / total if total else None
        loop.call_soon_threadsafe(progress.report, f"{file}: {sent / 1e6:.1f} MB", pct)

    try:
        path = await asyncio.to_thread(store.pull, name, report)
    finally:
        progress.end()
    return {"model": name, "path": str(path)}


def decline(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """``texpaste.declineModelOffer {model}``: never offer it again on this machine."""
    name = _model_of(args, DECLINE_OFFER)
    store.decline_offer(name)
    return {"declined": name}
