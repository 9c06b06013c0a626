#!/usr/bin/env bash
# Pack what scripts/gpu_recipe.py needs into .gpu/ (ignored by git, carried to the device with
# `carry: [".gpu"]`; with the tracked tree under the device's 64 MiB): TeX-rendered training shards, the validation shard, and
# formula lists for on-device mathtext rendering, and (with INIT=RUN_DIR) the latest weights of a
# CPU run, so the GPU continues it instead of starting from the bundled model.
#   [INIT=RUN_DIR] scripts/gpu_pack.sh DATA_DIR [SHARDS]     (DATA_DIR holds shard folders and val/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:?usage: gpu_pack.sh DATA_DIR [SHARDS]}"
SHARDS="${2:-$([ -n "${INIT:-}" ] && echo 3 || echo 4)}"  # the init weights take one shard's room
FORMULAS="${FORMULAS:-$ROOT/../shared/data/formulas/train}"
OUT="$ROOT/.gpu"
grep -qx '/.gpu/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$ROOT/.git/info/exclude"
rm -rf "$OUT"; mkdir -p "$OUT/shards" "$OUT/val" "$OUT/formulas"
n=0
# the first shard of each source in turn (display, inline, exam and CROHME formulas), then the second...
for shard in $(ls "$DATA"/*/shard-*.tar | grep -v '/val/' | awk -F/ '{print $NF, $0}' | sort | cut -d' ' -f2 | head -n "$SHARDS"); do
    cp "$shard" "$OUT/shards/shard-$(printf %05d $n).tar"; n=$((n + 1))
done
cp "$DATA"/val/shard-*.tar "$OUT/val/"
# formula lists: display math (multi-line bodies are beyond mathtext) and a slice of inline math
# (`|| true`: head closing the pipe early makes zcat fail, which pipefail would turn into an exit)
{ zcat "$FORMULAS/arxiv_display.txt.gz" | grep -v 'begin{' | head -n 120000 || true; } | gzip -9 > "$OUT/formulas/display.txt.gz"
{ zcat "$FORMULAS/arxiv_inline.txt.gz" | head -n 100000 || true; } | gzip -9 > "$OUT/formulas/inline.txt.gz"
if [ -n "${INIT:-}" ]; then
    "$ROOT/.venv/bin/texpaste" train --config "${CONFIG:-$ROOT/configs/texpaste-small.yaml}" --out "$INIT" --export "$OUT/init"
fi
# the device takes at most 64 MiB: the tracked tree and the carried .gpu/ together
total=$(( $(git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 cat) | wc -c) + $(du -sb "$OUT" | cut -f1) ))
echo "gpu_pack: .gpu/ $(du -sh "$OUT" | cut -f1), with the tree $((total / 1048576)) MiB of the device's 64 MiB"
if [ "$total" -gt $((63 * 1048576)) ]; then
    echo "gpu_pack: over the device's limit; pack fewer shards (second argument)." >&2
    exit 1
fi
