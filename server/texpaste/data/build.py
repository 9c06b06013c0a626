"""``texpaste data render``: formulas file -> seeded, deterministic shards of rendered images.

Formulas are filtered (safe for TeX, short enough, spellable by the tokenizer), shuffled with
the seed, and rendered in chunks; each chunk gets its own font and DPI drawn from the seed,
so the same arguments always produce the same shards.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from texpaste.data.mathtext import FONTS as MATHTEXT_FONTS
from texpaste.data.mathtext import render_mathtext
from texpaste.data.pdf import FONTS as PDF_FONTS
from texpaste.data.pdf import render_pdf
from texpaste.data.shards import Sample, encode_png, write_shard
from texpaste.data.tex import FONTS as TEX_FONTS
from texpaste.data.tex import render_tex, screen, tex_available
from texpaste.data.web import KATEX_FONTS, MATHJAX_FONTS, render_katex, render_mathjax
from texpaste.errors import RenderError, TexpasteError

log = logging.getLogger(__name__)

RENDERERS: dict[str, tuple[Callable, dict]] = {
    "tex": (render_tex, TEX_FONTS),
    "mathtext": (render_mathtext, MATHTEXT_FONTS),
    "katex": (render_katex, KATEX_FONTS),
    "mathjax": (render_mathjax, MATHJAX_FONTS),
    "pdf": (render_pdf, PDF_FONTS),
}


def read_formulas(path: str | Path) -> list[str]:
    """One formula per line; ``.gz`` files are decompressed; blank lines skipped."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            formulas = [line.strip() for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TexpasteError(f"Cannot read formulas from {path}: {reason}.") from exc
    if not formulas:
        raise TexpasteError(f"{path} has no formulas (one per line expected).")
    return formulas


_BM = re.compile(r"\\bm(?![a-zA-Z])")


def prepare_formula(latex: str) -> str:
    """Small rewrites so arXiv display math renders as a standalone formula (split -> aligned,
    bm's ``\\bm`` -> amsmath's ``\\boldsymbol``)."""
    return _BM.sub(r"\\boldsymbol", latex.replace("{split}", "{aligned}")).strip()


@dataclass
class RenderSettings:
    renderer: str = "tex"
    fonts: Sequence[str] = ()
    dpi: tuple[int, int] = (100, 180)
    max_size: tuple[int, int] | None = (672, 192)  # (width, height); larger renders are dropped
    max_chars: int = 400
    chunk: int = 200
    seed: int = 0

    def font_list(self) -> list[str]:
        available = RENDERERS[self.renderer][1]
        return list(self.fonts) or list(available)


@dataclass
class RenderStats:
    requested: int = 0
    rendered: int = 0
    failed: int = 0
    too_large: int = 0
    skipped: int = 0
    seconds: float = 0.0
    jobs: int = 1
    fonts: dict[str, int] = field(default_factory=dict)

    @property
    def per_second_per_core(self) -> float:
        return self.rendered / max(self.seconds, 1e-9) / self.jobs


def _render_chunk(
    args: tuple[list[str], str, str, int, tuple[int, int] | None],
) -> tuple[list[Sample], int, int]:
    formulas, renderer, font, dpi, max_size = args
    fn = RENDERERS[renderer][0]
    result = fn(formulas, font=font, dpi=dpi)
    samples, too_large = [], 0
    for latex, img in zip(formulas, result.images):
        if img is None:
            continue
        if max_size and (img.width > max_size[0] or img.height > max_size[1]):
            too_large += 1
            continue
        samples.append(Sample(latex=latex, font=font, dpi=dpi, png=encode_png(img), renderer=renderer))
    return samples, result.failed, too_large


def select(
    formulas: Iterable[str], settings: RenderSettings, accept: Callable[[str], bool] | None = None
) -> tuple[list[str], int]:
    """Filtered, de-duplicated, seed-shuffled formulas, and how many were skipped."""
    seen, keep, skipped = set(), [], 0
    for raw in formulas:
        latex = prepare_formula(raw)
        if (
            latex in seen
            or len(latex) > settings.max_chars
            or screen(latex)
            or (accept and not accept(latex))
        ):
            skipped += 1
            continue
        seen.add(latex)
        keep.append(latex)
    random.Random(settings.seed).shuffle(keep)
    return keep, skipped


def render_to_shards(
    formulas: Sequence[str],
    out: str | Path,
    n: int,
    settings: RenderSettings,
    *,
    shard_size: int = 2000,
    jobs: int | None = None,
    accept: Callable[[str], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RenderStats:
    """Render until ``n`` images are written (or the formulas run out) into ``out/shard-*.tar``."""
    if settings.renderer == "tex" and not tex_available():
        raise RenderError("latex and dvipng are not installed; use --renderer mathtext or install TeX Live.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool_formulas, skipped = select(formulas, settings, accept)
    rng = random.Random(settings.seed)
    fonts = settings.font_list()
    chunks = []
    for start in range(0, len(pool_formulas), settings.chunk):
        font, dpi = rng.choice(fonts), rng.randint(*settings.dpi)
        chunks.append(
            (pool_formulas[start : start + settings.chunk], settings.renderer, font, dpi, settings.max_size)
        )
    jobs = jobs or os.cpu_count() or 1
    stats = RenderStats(requested=n, skipped=skipped, jobs=jobs)
    buffer: list[Sample] = []
    shard = 0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        # bounded look-ahead keeps output order (and so the shards) deterministic
        pending = [ex.submit(_render_chunk, c) for c in chunks[: jobs * 2]]
        next_chunk = len(pending)
        while pending and stats.rendered < n:
            samples, failed, too_large = pending.pop(0).result()
            if next_chunk < len(chunks):
                pending.append(ex.submit(_render_chunk, chunks[next_chunk]))
                next_chunk += 1
            stats.failed += failed
            stats.too_large += too_large
            samples = samples[: n - stats.rendered]
            stats.rendered += len(samples)
            for s in samples:
                stats.fonts[s.font] = stats.fonts.get(s.font, 0) + 1
            buffer.extend(samples)
            while len(buffer) >= shard_size or (buffer and stats.rendered >= n):
                write_shard(out / f"shard-{shard:05d}.tar", buffer[:shard_size])
                buffer, shard = buffer[shard_size:], shard + 1
            if progress:
                progress(stats.rendered)
        for f in pending:
            f.cancel()
    if buffer:
        write_shard(out / f"shard-{shard:05d}.tar", buffer)
    stats.seconds = time.perf_counter() - t0
    (out / "stats.json").write_text(
        json.dumps(
            {**stats.__dict__, "formulas_per_second_per_core": round(stats.per_second_per_core, 1)}, indent=2
        )
    )
    return stats
