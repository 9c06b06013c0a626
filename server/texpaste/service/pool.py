"""The warm models of a long-running process (the daemon, or ``serve --engine in-process``).

A :class:`ModelPool` loads the default model in the background as soon as the process starts and
keeps the most recently used few, so a request for another model (an editor whose settings name a
different one) loads it once instead of restarting the process. Loading happens under one lock:
requests that arrive meanwhile wait for it and see its progress (download percentage, "Loading
model…") through listeners instead of failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from texpaste.errors import TexpasteError

if TYPE_CHECKING:
    from texpaste.engine.recognizer import Recognizer

log = logging.getLogger(__name__)

ProgressListener = Callable[[str, "float | None"], None]  # (message, percentage or None)
Key = tuple[str | None, str | None]  # (model, device) as requested; None = the pool's default


class ModelPool:
    def __init__(
        self, model: str | None = None, device: str | None = None, threads: int | None = None, keep: int = 2
    ) -> None:
        self.default_model, self.default_device, self.threads, self.keep = model, device, threads, keep
        self._models: OrderedDict[Key, Recognizer] = OrderedDict()
        self._load_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._listeners: set[ProgressListener] = set()
        self._loading: Key | None = None
        self._errors: dict[Key, str] = {}  # the last load failure per (model, device)
        self.loads = 0

    def _key(self, model: str | None, device: str | None) -> Key:
        return (model or self.default_model, device or self.default_device)

    def preload(self) -> threading.Thread:
        """Start loading the default model on a daemon thread (errors are kept in ``state``)."""

        self._loading = self._key(None, None)

        def run() -> None:
            try:
                self.get(None, None)
            except TexpasteError:
                pass  # recorded for status(); the next request retries

        thread = threading.Thread(target=run, name="texpaste-preload", daemon=True)
        thread.start()
        return thread

    def loaded(self, model: str | None, device: str | None) -> Recognizer | None:
        """The model for ``(model, device)`` when it is already loaded; never loads."""
        with self._state_lock:
            return self._models.get(self._key(model, device))

    def get(
        self, model: str | None, device: str | None, progress: ProgressListener | None = None
    ) -> Recognizer:
        """The loaded model for ``(model, device)``, loading it (once) when needed."""
        key = self._key(model, device)
        with self._state_lock:
            rec = self._models.get(key)
            if rec is not None:
                self._models.move_to_end(key)
                return rec
        if progress is not None:
            self._add_listener(progress)
        try:
            with self._load_lock:
                with self._state_lock:
                    rec = self._models.get(key)
                if rec is None:
                    rec = self._load(key)
            return rec
        finally:
            if progress is not None:
                self._remove_listener(progress)

    def _load(self, key: Key) -> Recognizer:
        from texpaste.engine.recognizer import Recognizer  # deferred: torch

        self._loading = key
        self._emit("Loading model…", None)
        started = time.perf_counter()

        def on_download(name: str, done: int, total: int | None) -> None:
            pct = 100.0 * done / total if total else None
            self._emit(f"Downloading {name}…", pct)

        try:
            rec = Recognizer.load(key[0], device=key[1], threads=self.threads, progress=on_download)
        except TexpasteError as exc:
            self._errors[key] = str(exc)
            log.error("model load failed: %s", exc)
            raise
        except Exception as exc:  # a bug or an unexpected library failure: keep serving, say why
            log.exception("model load crashed")
            self._errors[key] = f"The model could not be loaded: {exc}."
            raise TexpasteError(self._errors[key]) from exc
        finally:
            self._loading = None
        log.info("loaded %s on %s in %.1f s", rec.name, rec.device, time.perf_counter() - started)
        with self._state_lock:
            self._models[key] = rec
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            self._errors.pop(key, None)
            self.loads += 1
        return rec

    def _add_listener(self, listener: ProgressListener) -> None:
        with self._state_lock:
            self._listeners.add(listener)

    def _remove_listener(self, listener: ProgressListener) -> None:
        with self._state_lock:
            self._listeners.discard(listener)

    def _emit(self, message: str, percentage: float | None) -> None:
        with self._state_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(message, percentage)
            except Exception:  # a listener must never break loading
                log.exception("progress listener failed")

    def status(self, model: str | None = None, device: str | None = None) -> dict[str, Any]:
        """The state of one (model, device) (default: the pool's): idle, loading, ready or error.

        Per model, so one client's failing model does not turn every other client's status to error.
        """
        key = self._key(model, device)
        with self._state_lock:
            rec = self._models.get(key)
        out: dict[str, Any] = {"model": key[0], "device": key[1], "loads": self.loads}
        if rec is not None:
            out.update(state="ready", model=rec.name, device=str(rec.device))
        elif self._loading == key:
            out["state"] = "loading"
        elif key in self._errors:
            out.update(state="error", error=self._errors[key])
        else:
            out["state"] = "idle"  # loads on first use
        return out
