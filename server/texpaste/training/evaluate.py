"""``texpaste eval``: render formulas with fixed settings, recognise them, score the predictions.

Scores (metrics.md): pix2tex's BLEU / edit distance / token accuracy, computed on pix2tex's BPE
pieces whatever tokenizer the model uses (both sides put in the space-separated label form
first, so spacing style does not count), exact match after normalisation, and a render match
rate: the prediction is rendered with the same settings and compared with the input image.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data.build import RENDERERS, RenderSettings, read_formulas, select
from ..latex import normalize_latex
from ..metrics import EvalAccumulator, pix2tex_tokenizer

log = logging.getLogger(__name__)


@dataclass
class EvalSettings:
    n: int = 1000
    renderer: str = "tex"
    font: str = "cm"
    dpi: int = 120
    seed: int = 0
    batch_size: int = 10  # pix2tex eval.py: BLEU is pooled per batch of same-size images
    temperature: float = 0.0
    threads: int | None = None
    max_chars: int = 400


def render_fixed(formulas: list[str], s: EvalSettings) -> list[tuple[str, Image.Image]]:
    """The first ``s.n`` formulas (seeded order) that render, each with its image."""
    render = RENDERERS[s.renderer][0]
    pool, _ = select(formulas, RenderSettings(renderer=s.renderer, seed=s.seed, max_chars=s.max_chars),
                     accept=lambda f: bool(normalize_latex(f)))  # fmt: skip
    out: list[tuple[str, Image.Image]] = []
    for start in range(0, len(pool), 200):
        chunk = pool[start : start + 200]
        for latex, img in zip(chunk, render(chunk, font=s.font, dpi=s.dpi).images):
            if img is not None:
                out.append((latex, img))
        if len(out) >= s.n:
            break
    return out[: s.n]


def ink(img: Image.Image) -> np.ndarray:
    """Binarised ink mask cropped to its bounding box."""
    mask = np.asarray(img.convert("L")) < 128
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return np.zeros((0, 0), dtype=bool)
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def images_match(a: Image.Image, b: Image.Image, tolerance: float = 0.02) -> bool:
    """Same picture after crop + binarise: equal size (±2 px) and ≤ ``tolerance`` of ink pixels differ."""
    x, y = ink(a), ink(b)
    if x.size == 0 or y.size == 0 or abs(x.shape[0] - y.shape[0]) > 2 or abs(x.shape[1] - y.shape[1]) > 2:
        return False
    H, W = max(x.shape[0], y.shape[0]), max(x.shape[1], y.shape[1])
    px, py = np.zeros((H, W), bool), np.zeros((H, W), bool)
    px[: x.shape[0], : x.shape[1]], py[: y.shape[0], : y.shape[1]] = x, y
    return bool((px ^ py).sum() <= tolerance * max(1, (px | py).sum()))


def evaluate(model: str | Path, formulas_file: str | Path, s: EvalSettings, *, out: str | Path | None = None,
             progress: bool = False) -> dict[str, Any]:  # fmt: skip
    from ..engine import Recognizer

    samples = render_fixed(read_formulas(formulas_file), s)
    rec = Recognizer.load(model, threads=s.threads)
    arrays, keep = {}, []
    for i, (_, img) in enumerate(samples):
        try:
            arrays[i] = rec.preprocess(img)
            keep.append(i)
        except Exception as exc:  # an image our own renderer made should always preprocess
            log.warning("skipping sample %d: %s", i, exc)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in keep:
        groups.setdefault(arrays[i].shape, []).append(i)
    tok = pix2tex_tokenizer()
    acc = EvalAccumulator(tok)
    preds: dict[int, str] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keep), unit="img")
    t0 = time.perf_counter()
    for idx in groups.values():
        for b in range(0, len(idx), s.batch_size):
            batch = idx[b : b + s.batch_size]
            context, mask = rec.encode([arrays[i] for i in batch])
            hyps = rec.decode(context, mask, candidates=1, temperature=s.temperature, max_tokens=None)
            texts = [rec.to_text(h[0].tokens) for h in hyps]
            preds.update(zip(batch, texts))
            p_norm = [normalize_latex(t) for t in texts]
            t_norm = [normalize_latex(samples[i][0]) for i in batch]
            acc.add_batch(
                p_norm,
                t_norm,
                [tok.encode(t).ids + [2] for t in p_norm],
                [tok.encode(t).ids + [2] for t in t_norm],
            )
            if bar is not None:
                bar.update(len(batch))
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    render = RENDERERS[s.renderer][0]
    order = sorted(preds)
    rendered = render([preds[i] for i in order], font=s.font, dpi=s.dpi).images
    matches = {i: img is not None and images_match(img, samples[i][1]) for i, img in zip(order, rendered)}
    metrics = {**acc.summary(), "render_match": sum(matches.values()) / max(1, len(matches)),
               "ms_per_image": 1e3 * seconds / max(1, len(keep))}  # fmt: skip
    report = {
        "model": rec.name, "formulas": str(formulas_file), "settings": asdict(s), "metrics": metrics,
        "samples": [{"truth": samples[i][0], "prediction": preds[i], "render_match": matches[i]} for i in order],
    }  # fmt: skip
    if out:
        Path(out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
