"""``texpaste eval``: render formulas with fixed settings, recognise them, score the predictions.

Scores (docs/compatibility.md §4): pix2tex's BLEU / edit distance / token accuracy, computed on pix2tex's BPE
pieces whatever tokenizer the model uses (both sides put in the space-separated label form
first, so spacing style does not count), exact match after normalisation, and a render match
rate: the prediction is rendered with the same settings and compared with the input image.

``evaluate_styles`` scores the same formulas rendered the ways people paste them
(:data:`SCREENSHOT_STYLES`: KaTeX and MathJax pages light and dark at 1x and 2x, PDF pages at
72-200 dpi in four math fonts, some with equation numbers), per style and as their mean. The render
match is left out there: a screenshot's margins, theme and number are drawn per formula, so a
re-render of the prediction cannot be compared pixel for pixel.
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

from texpaste.data.build import RENDERERS, RenderSettings, read_formulas, select
from texpaste.training.labels import normalize_latex
from texpaste.training.metrics import EvalAccumulator, pix2tex_tokenizer

log = logging.getLogger(__name__)


# name -> (renderer, font, dpi): the screenshot-style validation set (web pages and PDF viewers)
SCREENSHOT_STYLES: dict[str, tuple[str, str, int]] = {
    "katex-light-1x": ("katex", "light", 96),
    "katex-dark-2x": ("katex", "dark", 192),
    "mathjax-light-2x": ("mathjax", "light", 192),
    "mathjax-dark-1x": ("mathjax", "dark", 96),
    "pdf-cm-96dpi": ("pdf", "cm", 96),
    "pdf-mathptmx-144dpi": ("pdf", "mathptmx", 144),
    "pdf-txfonts-72dpi": ("pdf", "txfonts", 72),
    "pdf-lmodern-200dpi": ("pdf", "lmodern", 200),
}
METRIC_KEYS = ("bleu", "edit_distance", "token_accuracy", "exact_match")


@dataclass
class EvalSettings:
    n: int = 1000
    renderer: str = "tex"
    font: str = "cm"
    dpi: int = 120
    seed: int = 0
    batch_size: int = 10  # pix2tex eval.py: BLEU is pooled per batch of same-size images
    temperature: float = 0.0
    candidates: int = 1  # beam width; 1 = greedy. The editors paste the best of 5 (setting 'candidates')
    threads: int | None = None
    max_chars: int = 400


def render_fixed(formulas: list[str], s: EvalSettings) -> list[tuple[str, Image.Image]]:
    """The first ``s.n`` formulas (seeded order) that render, each with its image."""
    render = RENDERERS[s.renderer][0]
    pool, _ = select(
        formulas,
        RenderSettings(renderer=s.renderer, seed=s.seed, max_chars=s.max_chars),
        accept=lambda f: bool(normalize_latex(f)),
    )
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


def evaluate(
    model: str | Path,
    formulas_file: str | Path,
    s: EvalSettings,
    *,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Render ``s.n`` formulas with ``s``'s renderer, font and DPI, recognise them, score them."""
    from texpaste.engine.recognizer import Recognizer

    samples = render_fixed(read_formulas(formulas_file), s)
    rec = Recognizer.load(model, threads=s.threads)
    metrics, rows = score(rec, samples, s, progress=progress, render_match=True)
    report = {
        "model": rec.name,
        "formulas": str(formulas_file),
        "settings": asdict(s),
        "metrics": metrics,
        "samples": rows,
    }
    if out:
        Path(out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def evaluate_styles(
    model: str | Path,
    formulas_file: str | Path,
    s: EvalSettings,
    styles: dict[str, tuple[str, str, int]],
    *,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The same ``s.n`` formulas per style (renderer, font, dpi): metrics per style and their mean."""
    from texpaste.engine.recognizer import Recognizer

    formulas = read_formulas(formulas_file)
    rec = Recognizer.load(model, threads=s.threads)
    per_style, rows = {}, {}
    for name, (renderer, font, dpi) in styles.items():
        style = EvalSettings(**{**asdict(s), "renderer": renderer, "font": font, "dpi": dpi})
        samples = render_fixed(formulas, style)
        per_style[name], rows[name] = score(rec, samples, style, progress=progress, render_match=False)
        log.info("%s: %s", name, per_style[name])
    mean = {
        k: float(np.mean([m[k] for m in per_style.values() if m.get(k) is not None] or [np.nan]))
        for k in (*METRIC_KEYS, "ms_per_image")
    }
    report = {
        "model": rec.name,
        "formulas": str(formulas_file),
        "settings": asdict(s),
        "metrics": mean,
        "styles": per_style,
        "samples": rows,
    }
    if out:
        Path(out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report


def score(
    rec,
    samples: list[tuple[str, Image.Image]],
    s: EvalSettings,
    *,
    progress: bool = False,
    render_match: bool = True,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """pix2tex's metrics of ``rec`` on (truth, image) samples, decoded in batches of same-size images."""
    arrays, keep = {}, []
    for i, (_, img) in enumerate(samples):
        try:
            arrays[i] = rec.preprocess_scales(img)  # one array per glyph height the model decodes at
            keep.append(i)
        except Exception as exc:  # an image our own renderer made should always preprocess
            log.warning("skipping sample %d: %s", i, exc)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in keep:
        groups.setdefault(arrays[i][0].shape, []).append(i)
    tok = pix2tex_tokenizer()
    acc = EvalAccumulator(tok)
    preds: dict[int, str] = {}
    scores: dict[int, float] = {}  # mean log-probability per token of each prediction
    exact: dict[int, bool] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keep), unit="img")
    t0 = time.perf_counter()
    for idx in groups.values():
        for b in range(0, len(idx), s.batch_size):
            batch = idx[b : b + s.batch_size]
            hyps = rec.infer(
                [arrays[i] for i in batch],
                candidates=s.candidates,
                temperature=s.temperature,
                max_tokens=None,
            )
            texts = [rec.to_text(h[0].tokens) for h in hyps]
            preds.update(zip(batch, texts))
            scores.update(zip(batch, (h[0].score for h in hyps)))
            p_norm = [normalize_latex(t) for t in texts]
            t_norm = [normalize_latex(samples[i][0]) for i in batch]
            acc.add_batch(
                p_norm,
                t_norm,
                [tok.encode(t).ids + [2] for t in p_norm],
                [tok.encode(t).ids + [2] for t in t_norm],
            )
            exact.update(zip(batch, acc.exact[-len(batch) :], strict=True))
            if bar is not None:
                bar.update(len(batch))
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    order = sorted(preds)
    metrics = {**acc.summary(), "ms_per_image": 1e3 * seconds / max(1, len(keep))}
    matches: dict[int, bool | None] = dict.fromkeys(order)
    if render_match:
        rendered = RENDERERS[s.renderer][0]([preds[i] for i in order], font=s.font, dpi=s.dpi).images
        matches = {i: img is not None and images_match(img, samples[i][1]) for i, img in zip(order, rendered)}
        metrics["render_match"] = sum(bool(m) for m in matches.values()) / max(1, len(matches))
    rows = [
        {
            "truth": samples[i][0],
            "prediction": preds[i],
            "score": round(float(scores[i]), 4),
            "exact": exact.get(i),
            "render_match": matches[i],
        }
        for i in order
    ]
    return metrics, rows
