"""Training-throughput benchmark: the whole loop (data included), float32 baseline vs the faster path.

    .venv/bin/python benchmarks/bench_training.py --data SHARD_DIR... [--val VAL_DIR] [--threads 2] [--out r.json]

Each variant is a real ``texpaste train`` run (``train()``: decoding, augmentation, bucketing and
prefetching of the shards, forward, backward, AdamW, weight average) from the same bundled
texpaste-small weights over exactly one pass of the same shards with the same seed, one after the
other in this process on the same machine: every variant trains on the same images (only how they
are grouped into batches may differ). Reported per variant: samples per second (images / training
time of the pass), steps, seconds per step, the mean training loss of the pass, and, with ``--val``,
the loss of the weights after the pass on held-out images (float32, no augmentation, per label token):
a faster path that changed the learning shows there. The mean training loss is a mean of batch means,
so it moves with how batches are grouped by length even when the learning does not. Use a few
thousand images (one or two shards).

Variants (training settings, see ``TrainConfig``):
  baseline   float32, NCHW convolutions, batches in arrival order (the loop before this benchmark)
  fast       channels-last convolutions, batches grouped by label length; bfloat16 autocast where the
             CPU computes bf16 natively (``precision: auto``: AVX512-BF16 or AMX; emulated bf16 is
             hundreds of times slower than float32), with matrix-product attention in bf16 on a CPU
             (``use_fused_attention``)
Both compute the output head and the loss only at label positions, not at padding.
Run it on a quiet machine (pause any training run: ``kill -STOP PID``, then ``kill -CONT PID``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from report import emit, machine

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "texpaste-small.yaml"
VARIANTS = {
    "baseline": {"precision": "float32", "channels_last": False, "group_lengths": False},
    "fast": {"precision": "auto", "channels_last": True, "group_lengths": True},
}


def heldout_loss(config: Path, run_dir: str, val: list[str], threads: int, limit: int = 400) -> float:
    """Cross-entropy per label token of ``run_dir``'s trained weights on ``limit`` held-out images."""
    import torch

    from texpaste.training.dataset import bucketed_batches
    from texpaste.training.train import build, label_loss

    run = build(config, val, run_dir, overrides={"threads": threads, "mix": None})
    run.model.load_state_dict(torch.load(Path(run_dir) / "last.pt", weights_only=True)["model"])
    run.model.eval()
    pad, total, count = run.cfg.pad_token, 0.0, 0
    batches = bucketed_batches(
        run.examples[:limit],
        run.cfg,
        seed=0,
        epoch=0,
        pixel_budget=run.tc.pixel_budget,
        max_batch=run.tc.max_batch,
        augment_data=False,
    )
    with torch.no_grad():
        for images, tokens, _ in batches:
            total += label_loss(run.model, images, tokens, pad, reduction="sum").item()
            count += int((tokens[:, 1:] != pad).sum())
    return total / count


def run_variant(name: str, data: list[str], threads: int, val: list[str] | None = None) -> dict:
    import torch

    from texpaste.assets import BUNDLED_MODEL_DIR
    from texpaste.training.train import cpu_has_native_bf16, train

    overrides = {
        **VARIANTS[name],
        "threads": threads,
        "warmup_steps": 10,
        "total_steps": 10_000,
        "log_every": 10,
        "val_every": 10**9,
        "checkpoint_minutes": 10**6,
        "ema_decay": 0.999,
        "mix": None,
    }
    with tempfile.TemporaryDirectory(prefix="bench-train-") as out:
        t = time.perf_counter()
        result = train(CONFIG, data, out, max_epochs=1, init=BUNDLED_MODEL_DIR, overrides=overrides)
        wall = time.perf_counter() - t
        with (Path(out) / "log.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        heldout = heldout_loss(CONFIG, out, val, threads) if val else None
    return {
        "variant": name,
        "settings": VARIANTS[name],
        "bfloat16": VARIANTS[name]["precision"] == "bfloat16"
        or (VARIANTS[name]["precision"] == "auto" and cpu_has_native_bf16()),
        "steps": result["step"],
        "samples": result["samples"],
        "samples_per_second": result["samples"] / result["seconds"],
        "seconds_per_step": result["seconds"] / result["step"],
        "mean_loss": sum(float(r["loss"]) for r in rows) / len(rows),
        "heldout_loss": heldout,
        "wall_seconds": wall,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="shard directories (texpaste data render)")
    p.add_argument("--val", nargs="+", help="held-out shard directories: the loss after the pass")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from texpaste.training.train import cpu_has_native_bf16

    results = [run_variant(name, args.data, args.threads, args.val) for name in VARIANTS]
    base = results[0]["samples_per_second"]
    for r in results:
        r["speedup"] = r["samples_per_second"] / base
    report = {
        "machine": machine(native_bf16=cpu_has_native_bf16()),
        "data": args.data,
        "val": args.val,
        "results": results,
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
