"""Training batches from shards: decode, augment, preprocess exactly as at inference, bucket by size.

Images are grouped by their preprocessed (H, W) so a batch needs no padding, and each batch
holds about ``pixel_budget`` pixels, so small formulas come in big batches and large ones in
small batches. Every random choice derives from (seed, epoch, sample index): a resumed run
sees the same stream.
"""

from __future__ import annotations

import io
import queue
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import imaging
from ..data.augment import augment
from ..data.shards import read_shard, shard_paths
from ..errors import ImageError
from ..latex import training_label
from ..model.config import ModelConfig
from ..model.tokenizer import Tokenizer


@dataclass
class Example:
    png: bytes
    ids: list[int]
    latex: str


def label_ids(latex: str, tokenizer: Tokenizer, max_len: int) -> list[int] | None:
    """Token ids of the canonical label (:func:`training_label`), or None when it is too long or
    not spellable."""
    label = training_label(latex)
    if not label or not tokenizer.roundtrips(label):
        return None
    ids = tokenizer.encode(label)
    return ids if len(ids) <= max_len else None


def load_examples(
    directories: list[str | Path], tokenizer: Tokenizer, max_len: int, skip: set[Path] | None = None
) -> list[Example]:
    """Examples of every shard in ``directories`` (except those in ``skip``, which is updated)."""
    out = []
    for d in directories:
        for path in shard_paths(d):
            if skip is not None:
                if path in skip:
                    continue
                skip.add(path)
            for s in read_shard(path):
                ids = label_ids(s.latex, tokenizer, max_len)
                if ids is not None:
                    out.append(Example(s.png, ids, s.latex))
    return out


def _seeded_array(args: tuple[bytes, ModelConfig, str | None]) -> np.ndarray | None:
    png, cfg, seed = args
    return image_array(png, cfg, random.Random(seed) if seed is not None else None)


def image_array(png: bytes, cfg: ModelConfig, rng: random.Random | None) -> np.ndarray | None:
    """Decode (+ augment when ``rng``) and preprocess to the model's normalised (H, W) array."""
    img = Image.open(io.BytesIO(png))
    img.load()
    if rng is not None:
        img = augment(img.convert("RGB") if rng.random() < 0.5 else img.convert("L"), rng)
    try:
        return imaging.prepare(img, (cfg.max_width, cfg.max_height), (cfg.min_width, cfg.min_height))
    except ImageError:
        return None


def collate(arrays: list[np.ndarray], ids: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.stack(arrays))[:, None]  # (B, 1, H, W)
    T = max(len(x) for x in ids)
    tokens = torch.full((len(ids), T), pad, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x)
    return images, tokens


def bucketed_batches(
    examples: list[Example],
    cfg: ModelConfig,
    *,
    seed: int,
    epoch: int,
    pixel_budget: int,
    max_batch: int,
    pool: int = 512,
    augment_data: bool = True,
    skip: int = 0,
    workers: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
    """Yields (images (B,1,H,W), tokens (B,T), examples consumed so far in this epoch).

    ``workers`` > 0 decodes and augments in that many processes (a GPU outruns one CPU thread).
    """
    order = list(range(len(examples)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    buckets: dict[tuple[int, int], list[tuple[np.ndarray, list[int]]]] = {}
    executor = ProcessPoolExecutor(workers) if workers > 0 else None
    mapper = executor.map if executor else map
    for start in range(skip, len(order), pool):
        chunk = order[start : start + pool]
        jobs = [(examples[i].png, cfg, f"{seed}/{epoch}/{i}" if augment_data else None) for i in chunk]
        for idx, arr in zip(chunk, mapper(_seeded_array, jobs, **({"chunksize": 16} if executor else {}))):
            if arr is not None:
                buckets.setdefault(arr.shape, []).append((arr, examples[idx].ids))
        consumed = start + len(chunk)
        last = consumed >= len(order)
        for shape in list(buckets):
            size = max(1, min(max_batch, pixel_budget // (shape[0] * shape[1])))
            items = buckets[shape]
            while len(items) >= size or (last and items):
                batch, items = items[:size], items[size:]
                yield (*collate([a for a, _ in batch], [i for _, i in batch], cfg.pad_token), consumed)
            buckets[shape] = items
    if executor:
        executor.shutdown(cancel_futures=True)


def prefetch(it: Iterator, depth: int = 4) -> Iterator:
    """Run ``it`` in a background thread (PIL and numpy release the GIL) to overlap with training."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def worker() -> None:
        try:
            for item in it:
                q.put(item)
        finally:
            q.put(done)

    threading.Thread(target=worker, daemon=True).start()
    while (item := q.get()) is not done:
        yield item
