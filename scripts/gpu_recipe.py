"""Train texpaste's own model on a lent GPU in one call (about 10 minutes), then export it.

Prepared for a machine with one NVIDIA H100/H200, 16 CPU cores, Python 3.12 with torch, timm,
tokenizers, matplotlib, PyYAML, no TeX and no network, where at most 64 MiB travel with the
working tree. So the data comes two ways at once:

- ``BUNDLE/shards``: TeX-rendered shards made here (``scripts/gpu_pack.sh``), the same renderer
  the evaluation uses;
- matplotlib-mathtext renders made on the spot by ``--workers`` processes from the formula lists in
  ``BUNDLE/formulas`` while the GPU trains; their shards join the run at each epoch boundary.

Usage on the device (the repository root is the working directory):

    python3 scripts/gpu_recipe.py --bundle .gpu --minutes 9 --out "$OUT"

It writes ``OUT/best/`` (a model directory: config.yaml, float16 weights.pth, tokenizer.json),
``OUT/log.csv`` and ``OUT/summary.json`` (steps, samples, best validation BLEU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))


def render_worker(formulas: list[str], out: str, seed: int) -> None:
    from texpaste.data.build import RenderSettings, render_to_shards

    os.nice(5)  # the trainer's data loaders come first
    os.setpgrp()  # its own process group, so its render pool can be stopped with it
    settings = RenderSettings(renderer="mathtext", seed=seed, dpi=(90, 170), max_size=(800, 200), chunk=100)
    render_to_shards(formulas, out, 10**9, settings, shard_size=1000, jobs=1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=ROOT / ".gpu")
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "texpaste-small.yaml")
    p.add_argument(
        "--init",
        type=Path,
        help="start from this model directory (default: BUNDLE/init, else the bundled model)",
    )
    p.add_argument("--minutes", type=float, default=9.0)
    p.add_argument(
        "--workers", type=int, default=max(1, (os.cpu_count() or 4) // 2 - 1), help="mathtext renderers"
    )
    p.add_argument(
        "--loaders", type=int, default=max(1, (os.cpu_count() or 4) // 2), help="data loader processes"
    )
    p.add_argument("--work", type=Path, default=Path("/tmp/texpaste-gpu"))
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    args = p.parse_args()

    import torch

    from texpaste.assets import BUNDLED_MODEL_DIR
    from texpaste.data.build import read_formulas
    from texpaste.training.train import train

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        # no cudnn.benchmark: bucketed batches come in many shapes, and timing the convolutions anew
        # for each one is the likely reason the first try left an H200 2 % busy (one CPU thread working)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    formulas = [f for path in sorted((args.bundle / "formulas").glob("*.txt*")) for f in read_formulas(path)]
    procs = []
    for i in range(args.workers if formulas else 0):
        part = formulas[i :: args.workers]
        proc = mp.get_context("spawn").Process(
            target=render_worker, args=(part, str(args.work / f"mt-{i}"), 1000 + i)
        )
        proc.start()
        procs.append(proc)
    data = [args.bundle / "shards", *(args.work / f"mt-{i}" for i in range(len(procs)))]
    for d in data:
        Path(d).mkdir(parents=True, exist_ok=True)
    packed = args.bundle / "init"
    init = args.init or (packed if packed.exists() else BUNDLED_MODEL_DIR)
    gpu = device == "cuda"
    # a cosine from the CPU run's rate down over the whole time budget (whatever the GPU's speed):
    # the decay is what a lent GPU adds best, at ~12 times the CPU's batch
    overrides = {
        "pixel_budget": 327680 * (12 if gpu else 1),
        "max_batch": 256 if gpu else 32,
        "lr": 6e-4,
        "warmup_steps": 200 if gpu else 20,
        "total_steps": 4000 if gpu else 200,
        "decay_steps": 0,
        "schedule_minutes": max(0.1, args.minutes - 0.5),
        "val_every": 400 if gpu else 50,
        "checkpoint_minutes": 3,
        "threads": 0,
        "data_workers": args.loaders,
        "log_every": 20,
    }
    t0 = time.time()
    try:
        result = train(
            args.config,
            data,
            args.work / "run",
            val_dir=args.bundle / "val",
            device=device,
            max_minutes=args.minutes,
            init=init if (init / "weights.pth").exists() else None,
            overrides=overrides,
        )
    finally:
        for proc in procs:  # with their render pools, which would hold stdout open
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()  # in case it had not made its group yet
            proc.join()
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.work / "run"
    if (run / "best").exists():
        shutil.copytree(run / "best", args.out / "best", dirs_exist_ok=True)
    shutil.copy(run / "log.csv", args.out / "log.csv")
    rendered = sum(1 for d in data[1:] for _ in Path(d).glob("shard-*.tar")) * 1000
    summary = {
        **result,
        "device": device,
        "minutes": (time.time() - t0) / 60,
        "mathtext_images_about": rendered,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
