#!/usr/bin/env bash
# Render the training and validation shards for configs/texpaste-small-screenshots.yaml into DATA_DIR:
# TeX renders of four formula sources, PDF pages, KaTeX and MathJax pages (about 414k images; ~100 minutes
# on 2 cores, most of it MathJax). Needs scripts/setup-render.sh (KaTeX, MathJax, Chromium) and TeX.
#     scripts/render_training_data.sh DATA_DIR [FORMULAS_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: render_training_data.sh DATA_DIR [FORMULAS_DIR]}"
F="${2:-$ROOT/../shared/data/formulas}"
T="$ROOT/.venv/bin/texpaste"
R() { nice "$T" data render --jobs "$(nproc)" "$@"; }
R --formulas "$F/valid/im2latex100k_validate.txt.gz" --out "$OUT/val" --n 1000 --seed 1 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/tex-display" --n 50000 --seed 11 --renderer tex
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/tex-inline" --n 15000 --seed 12 --renderer tex
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/tex-k12" --n 8000 --seed 13 --renderer tex
R --formulas "$F/train/crohme_train.txt.gz" --out "$OUT/tex-crohme" --n 4000 --seed 14 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display" --n 12000 --seed 21 --renderer pdf
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/pdf-k12" --n 3000 --seed 22 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/katex-display" --n 8000 --seed 31 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/katex-inline" --n 3000 --seed 32 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/mathjax-display" --n 6000 --seed 41 --renderer mathjax --max-size 1600 400
# added to the run from step 36,900 (low-resolution Times-like PDF pages) and 38,375 (fresh formulas, new seeds)
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-lowdpi" --n 10000 --seed 23 --renderer pdf --fonts txfonts mathptmx pxfonts --dpi 66 110
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display2" --n 15000 --seed 71 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/katex-display2" --n 12000 --seed 51 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/katex-inline2" --n 4000 --seed 52 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/mathjax-display2" --n 9000 --seed 61 --renderer mathjax --max-size 1600 400
# the 2026-12-04 continuation (run6) trained on these alone: the same styles with new seeds, formulas it had not seen
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/tex-display3" --n 25000 --seed 111 --renderer tex
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/tex-inline3" --n 8000 --seed 112 --renderer tex
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/tex-k12-3" --n 4000 --seed 113 --renderer tex
R --formulas "$F/train/crohme_train.txt.gz" --out "$OUT/tex-crohme3" --n 2000 --seed 114 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display3" --n 8000 --seed 121 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display4" --n 15000 --seed 125 --renderer pdf
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/pdf-k12-3" --n 2000 --seed 122 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-lowdpi3" --n 5000 --seed 123 --renderer pdf --fonts txfonts mathptmx pxfonts --dpi 66 110
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/katex-display3" --n 10000 --seed 131 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/katex-inline3" --n 3000 --seed 132 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/mathjax-display3" --n 7000 --seed 141 --renderer mathjax --max-size 1600 400
# the 2026-12-06 continuation (run8): new seeds again, twice the low-dpi Times-like PDF pages (the weakest style)
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/tex-display5" --n 20000 --seed 211 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/tex-display6" --n 15000 --seed 215 --renderer tex
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/tex-inline5" --n 6000 --seed 212 --renderer tex
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/tex-k12-5" --n 3000 --seed 213 --renderer tex
R --formulas "$F/train/crohme_train.txt.gz" --out "$OUT/tex-crohme5" --n 1500 --seed 214 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display5" --n 14000 --seed 221 --renderer pdf
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/pdf-k12-5" --n 1500 --seed 222 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-lowdpi5" --n 8000 --seed 223 --renderer pdf --fonts txfonts mathptmx pxfonts --dpi 66 110
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-lowdpi6" --n 10000 --seed 224 --renderer pdf --fonts txfonts mathptmx pxfonts --dpi 66 96
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/katex-display5" --n 9000 --seed 231 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/katex-inline5" --n 3000 --seed 232 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/mathjax-display5" --n 6000 --seed 241 --renderer mathjax --max-size 1600 400
# the second 2026-12-06 continuation (run9, from the run8 weights on these and the run8 shards): fresh KaTeX and MathJax
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/tex-display7" --n 20000 --seed 311 --renderer tex
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/tex-inline7" --n 6000 --seed 312 --renderer tex
R --formulas "$F/train/k12_exam.txt.gz" --out "$OUT/tex-k12-7" --n 3000 --seed 313 --renderer tex
R --formulas "$F/train/crohme_train.txt.gz" --out "$OUT/tex-crohme7" --n 1500 --seed 314 --renderer tex
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-display7" --n 12000 --seed 321 --renderer pdf
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/pdf-lowdpi7" --n 6000 --seed 323 --renderer pdf --fonts txfonts mathptmx pxfonts --dpi 66 110
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/katex-display7" --n 10000 --seed 331 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_inline.txt.gz" --out "$OUT/katex-inline7" --n 3000 --seed 332 --renderer katex --max-size 1600 400
R --formulas "$F/train/arxiv_display.txt.gz" --out "$OUT/mathjax-display7" --n 7000 --seed 341 --renderer mathjax --max-size 1600 400
