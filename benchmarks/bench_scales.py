"""Multi-scale decoding: what a paste costs at one glyph height vs at the bundled model's two.

    .venv/bin/python benchmarks/bench_scales.py [--n 20] [--threads 2] [--out r.json]

The bundled texpaste-small decodes each image at every height of ``glyph_heights`` in its config
and keeps the best-scored answer (docs/model-card.md). This times ``Recognizer.recognize`` one image
at a time, as a paste does, on the same screenshot-style images (``--n`` formulas of the im2latex
validation split in each of four styles: KaTeX 1x, MathJax 2x, PDF at 96 and 72 dpi), greedy and with
the editors' 5 candidates, once with the config's heights and once with the first height alone, in
one process, alternating per image; and reports the medians and their ratio. Run it on a quiet
machine (pause any training run: ``kill -STOP PID``, then ``kill -CONT PID``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

from report import emit, machine

ROOT = Path(__file__).resolve().parents[1]
FORMULAS = ROOT.parent / "shared/data/formulas/valid/im2latex100k_validate.txt.gz"
STYLES = ("katex-light-1x", "mathjax-light-2x", "pdf-cm-96dpi", "pdf-txfonts-72dpi")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20, help="formulas per style")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--formulas", type=Path, default=FORMULAS)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from texpaste.data.build import read_formulas
    from texpaste.engine.recognizer import Recognizer
    from texpaste.training.evaluate import SCREENSHOT_STYLES, EvalSettings, render_fixed

    multi = Recognizer.load("texpaste-small", threads=args.threads)
    heights = multi.cfg.decode_heights
    one_cfg = dataclasses.replace(multi.cfg, glyph_heights=[heights[0]])
    single = Recognizer(multi.model, multi.tokenizer, one_cfg, device=multi.device, name="single")
    formulas = read_formulas(args.formulas)
    images = []
    for style in STYLES:
        renderer, font, dpi = SCREENSHOT_STYLES[style]
        s = EvalSettings(n=args.n, renderer=renderer, font=font, dpi=dpi)
        images += [img for _, img in render_fixed(formulas, s)]
    for rec in (single, multi):  # warm-up: first calls allocate
        rec.recognize(images[0], candidates=5)
    results = {}
    for candidates in (1, 5):
        times: dict[str, list[float]] = {"single": [], "multi": []}
        for img in images:
            for name, rec in (("single", single), ("multi", multi)):
                t = time.perf_counter()
                rec.recognize(img, candidates=candidates)
                times[name].append(1e3 * (time.perf_counter() - t))
        med = {k: statistics.median(v) for k, v in times.items()}
        results[f"candidates={candidates}"] = {
            "single_ms": round(med["single"], 1),
            "multi_ms": round(med["multi"], 1),
            "ratio": round(med["multi"] / med["single"], 2),
        }
    report = {
        "machine": machine(threads=args.threads),
        "heights": heights,
        "images": len(images),
        "styles": STYLES,
        "results": results,
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
