"""Batch concurrent recognition jobs onto one engine thread.

Jobs from every client go into one queue. A single worker thread takes the oldest job, waits a short
collection window for more that can share its decoding pass (same model and decoding options), and
runs them with :meth:`Recognizer.recognize_many`, whose results do not depend on the batch. A job
cancelled while queued never runs; one cancelled while its batch runs has its result discarded.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from texpaste.engine.imaging import read_image_file
from texpaste.engine.store import is_explicit
from texpaste.errors import Cancelled, RequestError, TexpasteError
from texpaste.limits import check_decode_options
from texpaste.service import wire
from texpaste.service.pool import ModelPool, ProgressListener

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeOptions:
    """What a job asks of the engine; jobs batch together only when these are equal."""

    model: str | None = None
    device: str | None = None
    candidates: int = 1
    temperature: float = 0.0
    resize: bool = True
    seed: int | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DecodeOptions:
        """Options from a request's JSON params, each checked with a one-sentence error."""

        def opt(name: str, kind: type, default: Any) -> Any:
            value = params.get(name, default)
            if value is None:
                return default
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise RequestError(
                    f"{name} must be a {'number' if kind is float else kind.__name__} (got {value!r})."
                )
            return value

        candidates = opt("candidates", int, 1)
        temperature = opt("temperature", float, 0.0)
        seed, device = opt("seed", int, None), opt("device", str, None)
        check_decode_options(candidates, temperature, seed, device)
        model = opt("model", str, None)
        if model is None or not is_explicit(model):
            raise RequestError(
                "recognize needs model: a registered name or an absolute model directory, chosen by the requester"
                + (f" (got {model!r})." if model is not None else ".")
            )
        return cls(
            model=model,
            device=device,
            candidates=candidates,
            temperature=temperature,
            resize=opt("resize", bool, True),
            seed=seed,
        )

    @property
    def batchable(self) -> bool:
        return self.seed is None  # a seeded sample must not share its random stream


@dataclass
class Job:
    image: bytes | Path
    options: DecodeOptions
    progress: ProgressListener | None = None
    future: Future = field(default_factory=Future)
    started: bool = False

    def cancel(self) -> None:
        """Cancel the job: dropped when still queued; its result discarded when already running."""
        if not self.future.done():
            self.future.set_exception(Cancelled("Recognition was cancelled."))


class Batcher:
    def __init__(self, pool: ModelPool, window: float = 0.015, max_batch: int = 8) -> None:
        self.pool, self.window, self.max_batch = pool, window, max_batch
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._pending: list[Job] = []  # taken from the queue but not yet run (other options)
        self._thread = threading.Thread(target=self._run, name="texpaste-engine", daemon=True)
        self._thread.start()
        self.stats = {"jobs": 0, "batches": 0, "largestBatch": 0}
        self.busy = 0  # jobs submitted and not yet finished
        self._busy_lock = threading.Lock()  # submit() runs on the event loop, completion on the engine thread

    def submit(
        self, image: bytes | Path, options: DecodeOptions, progress: ProgressListener | None = None
    ) -> Job:
        job = Job(image, options, progress)
        self._count(+1)
        job.future.add_done_callback(lambda _: self._count(-1))
        self._queue.put(job)
        return job

    def _count(self, delta: int) -> None:
        with self._busy_lock:
            self.busy += delta

    def close(self) -> None:
        self._queue.put(None)

    def _next(self, timeout: float | None) -> Job | None:
        if self._pending:
            return self._pending.pop(0)
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _collect(self, first: Job) -> list[Job]:
        """``first`` plus the compatible jobs arriving within the window (others wait their turn)."""
        batch = [first]
        if not first.options.batchable:
            return batch
        deadline = time.monotonic() + self.window
        kept: list[Job] = []
        for job in self._pending:
            (batch if job.options == first.options and len(batch) < self.max_batch else kept).append(job)
        self._pending = kept
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=max(left, 0)) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # keep the stop signal for the main loop
                break
            (batch if job.options == first.options else self._pending).append(job)
        return batch

    def _run(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                return
            batch = [j for j in self._collect(first) if not j.future.done()]
            if batch:
                try:
                    self._run_batch(batch)
                except Exception as exc:  # never let the engine thread die
                    log.exception("engine batch crashed")
                    for job in batch:
                        _settle(job, TexpasteError(f"Recognition failed unexpectedly: {exc}."))

    def _run_batch(self, batch: list[Job]) -> None:
        opts = batch[0].options

        def relay(message: str, pct: float | None) -> None:
            for job in batch:
                if job.progress and not job.future.done():
                    job.progress(message, pct)

        rec = self.pool.loaded(opts.model, opts.device)
        if rec is None:  # load on a thread of its own: recognitions on loaded models go on meanwhile
            threading.Thread(
                target=self._load_then_requeue, args=(batch, relay), name="texpaste-load", daemon=True
            ).start()
            return
        batch = [j for j in batch if not j.future.done()]
        if not batch:
            return
        for job in batch:
            job.started = True
        relay("Recognising…", None)
        self.stats["jobs"] += len(batch)
        self.stats["batches"] += 1
        self.stats["largestBatch"] = max(self.stats["largestBatch"], len(batch))
        results = rec.recognize_many(
            [j.image for j in batch],
            candidates=opts.candidates,
            temperature=opts.temperature,
            resize=opts.resize,
            seed=opts.seed,
        )
        for job, result in zip(batch, results):
            _settle(job, result if isinstance(result, TexpasteError) else _payload(result, rec, len(batch)))

    def _load_then_requeue(self, batch: list[Job], relay: ProgressListener) -> None:
        """Load the batch's model (the pool lets one load run at a time), then queue its jobs again."""
        opts = batch[0].options
        try:
            self.pool.get(opts.model, opts.device, progress=relay)
        except TexpasteError as exc:
            for job in batch:
                _settle(job, exc)
            return
        except Exception as exc:  # never lose the jobs to a bug
            log.exception("model load crashed")
            for job in batch:
                _settle(job, TexpasteError(f"The model could not be loaded: {exc}."))
            return
        for job in batch:
            if not job.future.done():
                self._queue.put(job)


def _payload(result: Any, rec: Any, batch_size: int) -> dict[str, Any]:
    return {**result.to_dict(), "model": rec.name, "device": str(rec.device), "batchSize": batch_size}


def _settle(job: Job, outcome: Any) -> None:
    if job.future.done():
        return  # cancelled meanwhile: the result is discarded
    try:
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)
    except Exception:  # lost a race with cancel()
        pass


async def recognize_async(
    batcher: Batcher, params: Any, progress: ProgressListener | None = None
) -> dict[str, Any]:
    """Validate a ``recognize`` request, run it on ``batcher`` and await the result on this event loop.

    ``progress`` is called on the event loop's thread. Cancelling the awaiting task cancels the job.
    """
    if not isinstance(params, dict):
        raise RequestError("recognize needs a params object.")
    image = wire.image_from_params(params)
    options = DecodeOptions.from_params(params)
    loop = asyncio.get_running_loop()
    if isinstance(image, Path):  # read here, not on the engine thread: a slow disk stalls no one else
        image = await asyncio.to_thread(read_image_file, image)

    def relay(message: str, pct: float | None) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress, message, pct)

    job = batcher.submit(image, options, relay)
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel()
        raise
