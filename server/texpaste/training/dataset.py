"""Training batches from shards: decode, augment, preprocess exactly as at inference, bucket by size.

Images are grouped by their preprocessed (H, W) so a batch needs no padding, and each batch
holds about ``pixel_budget`` pixels, so small formulas come in big batches and large ones in
small batches. Every random choice derives from (seed, epoch, sample index): a resumed run
sees the same stream.
"""

from __future__ import annotations

import io
import logging
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

from texpaste.data.augment import augment
from texpaste.data.shards import read_shard, shard_paths
from texpaste.engine import imaging
from texpaste.errors import ImageError
from texpaste.model.config import ModelConfig
from texpaste.model.tokenizer import Tokenizer
from texpaste.training.labels import training_label

log = logging.getLogger(__name__)

GROUP_BATCHES = 4  # batches of one image size sorted together by label length


@dataclass
class Example:
    png: bytes
    ids: list[int]
    latex: str
    style: str = "tex"  # the renderer that made the image


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
                    out.append(Example(s.png, ids, s.latex, s.renderer))
    return out


def _seeded_array(args: tuple[bytes, ModelConfig, str | None]) -> np.ndarray | str | None:
    png, cfg, seed = args
    return image_array(png, cfg, random.Random(seed) if seed is not None else None)


CORRUPT = "corrupt"  # what image_array returns for an image that cannot be decoded


def image_array(png: bytes, cfg: ModelConfig, rng: random.Random | None) -> np.ndarray | str | None:
    """Decode (+ augment when ``rng``) and preprocess to the model's normalised (H, W) array;
    ``CORRUPT`` when the bytes do not decode, None when preprocessing refuses the image (blank)."""
    try:
        img = Image.open(io.BytesIO(png), formats=imaging.FORMATS)
        img.load()
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError, zlib errors... for bad bytes
        return CORRUPT
    if rng is not None:
        img = augment(img.convert("RGB") if rng.random() < 0.5 else img.convert("L"), rng)
    try:
        return imaging.prepare(
            img,
            (cfg.max_width, cfg.max_height),
            (cfg.min_width, cfg.min_height),
            glyph_height=cfg.glyph_height,
        )
    except ImageError:
        return None


def collate(arrays: list[np.ndarray], ids: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.stack(arrays))[:, None]  # (B, 1, H, W)
    T = max(len(x) for x in ids)
    tokens = torch.full((len(ids), T), pad, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x)
    return images, tokens


def epoch_order(
    examples: list[Example], seed: int, epoch: int, mix: dict[str, float] | None = None
) -> list[int]:
    """The examples of one epoch, shuffled: each once, or with ``mix`` (style -> share), as many of
    each style as its share of the epoch (``len(examples)`` draws), cycling through a style whose
    pool is smaller and leaving out styles the mix does not name.

    Deterministic in (seed, epoch), so a resumed run sees the same stream."""
    rng = random.Random(seed * 1_000_003 + epoch)
    if not mix:
        order = list(range(len(examples)))
        rng.shuffle(order)
        return order
    pools: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        pools.setdefault(ex.style, []).append(i)
    shares = {style: share for style, share in mix.items() if share > 0 and pools.get(style)}
    total = sum(shares.values())
    order = []
    for style, share in sorted(shares.items()):
        pool = pools[style]
        want = round(len(examples) * share / total)
        passes = [rng.sample(pool, len(pool)) for _ in range(-(-want // len(pool)))]
        order.extend([i for p in passes for i in p][:want])
    rng.shuffle(order)
    return order


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
    mix: dict[str, float] | None = None,
    group_lengths: bool = False,
    stats: dict[str, int] | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
    """Yields (images (B,1,H,W), tokens (B,T), examples consumed so far in this epoch).

    ``workers`` > 0 decodes and augments in that many processes (a GPU outruns one CPU thread);
    ``mix`` sets each style's share of the epoch (:func:`epoch_order`); ``group_lengths`` waits
    for ``GROUP_BATCHES`` batches' worth of a size and cuts them from its images sorted by label
    length, so a batch's labels are of similar length (about half of the decoder's positions are
    padding otherwise). Images that do not decode are skipped, counted in the log and in ``stats``
    (``corrupt``, ``blank``) when given: one bad image in a shard never ends an epoch.
    """
    order = epoch_order(examples, seed, epoch, mix)
    buckets: dict[tuple[int, int], list[tuple[np.ndarray, list[int]]]] = {}
    skipped = {CORRUPT: 0, "blank": 0}
    executor = ProcessPoolExecutor(workers) if workers > 0 else None
    mapper = executor.map if executor else map
    for start in range(skip, len(order), pool):
        chunk = order[start : start + pool]
        # with a mix an example can come twice in an epoch: its position keys its augmentation
        keys = [
            f"{seed}/{epoch}/{i}" if not mix else f"{seed}/{epoch}/{i}/{start + k}"
            for k, i in enumerate(chunk)
        ]
        jobs = [(examples[i].png, cfg, key if augment_data else None) for i, key in zip(chunk, keys)]
        for idx, arr in zip(chunk, mapper(_seeded_array, jobs, **({"chunksize": 16} if executor else {}))):
            if isinstance(arr, np.ndarray):
                buckets.setdefault(arr.shape, []).append((arr, examples[idx].ids))
            else:
                skipped[arr or "blank"] += 1
        consumed = start + len(chunk)
        last = consumed >= len(order)
        for shape in list(buckets):
            size = max(1, min(max_batch, pixel_budget // (shape[0] * shape[1])))
            items = buckets[shape]
            if group_lengths and not last and len(items) < GROUP_BATCHES * size:
                continue
            if group_lengths:  # batches of similar label lengths: less padding for the decoder
                items.sort(key=lambda item: len(item[1]))
            while len(items) >= size or (last and items):
                batch, items = items[:size], items[size:]
                yield (*collate([a for a, _ in batch], [i for _, i in batch], cfg.pad_token), consumed)
            buckets[shape] = items
    if executor:
        executor.shutdown(cancel_futures=True)
    if any(skipped.values()):
        log.warning(
            "epoch %d skipped %d images that do not decode and %d that preprocess to nothing",
            epoch,
            skipped[CORRUPT],
            skipped["blank"],
        )
    if stats is not None:
        stats.update(skipped)


def prefetch(it: Iterator, depth: int = 4) -> Iterator:
    """Run ``it`` in a background thread (PIL and numpy release the GIL) to overlap with training."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    failure: list[BaseException] = []

    def worker() -> None:
        try:
            for item in it:
                q.put(item)
        except BaseException as exc:  # handed to the consumer: an error must not look like the end
            failure.append(exc)
        finally:
            q.put(done)

    threading.Thread(target=worker, daemon=True).start()
    while (item := q.get()) is not done:
        yield item
    if failure:
        raise failure[0]
