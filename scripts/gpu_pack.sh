#!/usr/bin/env bash
# Pack what scripts/gpu_recipe.py needs into .gpu/ (ignored by git, carried to the device with
# `carry: [".gpu"]`, at most ~50 MiB): TeX-rendered training shards, the validation shard, and
# formula lists for on-device mathtext rendering, and (with INIT=RUN_DIR) the latest weights of a
# CPU run, so the GPU continues it instead of starting from the bundled model.
#   [INIT=RUN_DIR] scripts/gpu_pack.sh DATA_DIR [SHARDS]     (DATA_DIR holds shard folders and val/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:?usage: gpu_pack.sh DATA_DIR [SHARDS]}"
SHARDS="${2:-3}"
FORMULAS="${FORMULAS:-$ROOT/../shared/data/formulas/train}"
OUT="$ROOT/.gpu"
grep -qx '/.gpu/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$ROOT/.git/info/exclude"
rm -rf "$OUT"; mkdir -p "$OUT/shards" "$OUT/val" "$OUT/formulas"
n=0
for shard in $(ls "$DATA"/*/shard-*.tar | grep -v '/val/' | sort -t/ -k2 | head -n "$SHARDS"); do
    cp "$shard" "$OUT/shards/shard-$(printf %05d $n).tar"; n=$((n + 1))
done
cp "$DATA"/val/shard-*.tar "$OUT/val/"
# formula lists: display math (multi-line bodies are beyond mathtext) and a slice of inline math
zcat "$FORMULAS/arxiv_display.txt.gz" | grep -v 'begin{' | head -n 120000 | gzip -9 > "$OUT/formulas/display.txt.gz"
zcat "$FORMULAS/arxiv_inline.txt.gz" | head -n 100000 | gzip -9 > "$OUT/formulas/inline.txt.gz"
if [ -n "${INIT:-}" ]; then
    "$ROOT/.venv/bin/texpaste" train --config "${CONFIG:-$ROOT/configs/texpaste-small.yaml}" --out "$INIT" --export "$OUT/init"
fi
du -sh "$OUT"
