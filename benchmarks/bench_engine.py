"""Engine benchmark: texpaste vs the reference pix2tex, same weights, same inputs, same threads.

    .venv/bin/python benchmarks/bench_engine.py [--threads 2] [--repeats 3] [--out results.json]

Both sides get the full-size random model of pix2tex's config.yaml (random weights never emit
EOS, so decoding is forced to a fixed number of steps), the same preprocessed tensors of the
rendered formulas in ``examples/``, and the same torch thread count. Each side runs in its own
process (the reference in .venv-reference, see scripts/setup-reference.sh) so peak RSS is its
own. Reported: model load time from disk, encoder + N-step decode time per image (median of
repeats) at N = 30 and 150, speed-up ratios, peak RSS, and texpaste's per-stage times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PY = Path(os.environ.get("REFERENCE_VENV", ROOT / ".venv-reference")) / "bin" / "python"
STEPS = (30, 150)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def texpaste_side(job: dict) -> dict:
    import torch

    from texpaste.engine.recognizer import Recognizer
    from texpaste.model.generate import sample

    torch.set_num_threads(job["threads"])
    t = time.perf_counter()
    rec = Recognizer.from_directory(job["model_dir"])
    load_s = time.perf_counter() - t
    images = torch.load(job["inputs"], weights_only=True)
    out = {"load_s": load_s, "steps": {}, "steps_all_logits": {}}
    with torch.inference_mode():
        # the engine's path (logits for the tokenizer's 1175 ids), and all 8000 logits like pix2tex
        for key, vocab in (("steps", rec.tokenizer.vocab_size), ("steps_all_logits", None)):
            for steps in STEPS:
                per_image = []
                for x in images[: job["images_for"][str(steps)]]:
                    runs = []
                    for _ in range(job["repeats"]):
                        t = time.perf_counter()
                        ctx = rec.model.encoder(x)
                        sample(
                            rec.model.decoder, ctx, bos=1, eos=2, max_len=steps, ignore_eos=True, vocab=vocab
                        )
                        runs.append(time.perf_counter() - t)
                    per_image.append(statistics.median(runs))
                out[key][str(steps)] = per_image
    out["peak_rss_mb"] = peak_rss_mb()  # before the second (resizer) model below adds its share
    # per-stage times through the public pipeline (resizer included), on the image files
    rec_resize = Recognizer.from_directory(job["model_dir_resizer"])
    stages = [rec_resize.recognize(p, max_tokens=151).timings for p in job["files"] for _ in range(2)]
    out["stages_ms"] = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    return out


def run_side(cmd: list[str], job: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        job_file, result_file = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_file.write_text(json.dumps(job))
        env = {**os.environ, "OMP_NUM_THREADS": str(job["threads"]), "MKL_NUM_THREADS": str(job["threads"])}
        subprocess.run([*cmd, str(job_file), str(result_file)], check=True, env=env)
        return json.loads(result_file.read_text())


def machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--images", type=int, default=5, help="formula images for the 30-step runs")
    p.add_argument("--images-long", type=int, default=3, help="formula images for the 150-step runs")
    p.add_argument("--out", type=Path, help="write the JSON results here")
    p.add_argument("--side", choices=("texpaste",), help=argparse.SUPPRESS)
    p.add_argument("job", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side == "texpaste":
        job = json.loads(Path(args.job[0]).read_text())
        Path(args.job[1]).write_text(json.dumps(texpaste_side(job)))
        return 0
    if not REFERENCE_PY.exists():
        sys.exit("benchmark: the reference venv is missing; run scripts/setup-reference.sh first.")

    import torch

    from texpaste.engine.recognizer import Recognizer
    from texpaste.model.random_init import init_model_dir

    files = sorted(str(f) for f in (ROOT / "examples").glob("*.png"))
    with tempfile.TemporaryDirectory(prefix="texpaste-bench-") as tmp:
        model_dir = init_model_dir(Path(tmp) / "model", seed=0)
        model_dir_resizer = init_model_dir(Path(tmp) / "model-resizer", seed=0, resizer=True)
        rec = Recognizer.from_directory(model_dir)
        inputs = [torch.from_numpy(rec.preprocess(f))[None, None] for f in files]
        torch.save(inputs, Path(tmp) / "inputs.pt")
        job = {
            "model_dir": str(model_dir),
            "model_dir_resizer": str(model_dir_resizer),
            "weights": str(model_dir / "weights.pth"),
            "config": str(model_dir / "config.yaml"),
            "inputs": str(Path(tmp) / "inputs.pt"),
            "files": files,
            "threads": args.threads,
            "repeats": args.repeats,
            "images_for": {"30": args.images, "150": args.images_long},
        }
        ours = run_side([sys.executable, __file__, "--side", "texpaste"], job)
        ref = run_side([str(REFERENCE_PY), str(ROOT / "benchmarks" / "reference_side.py")], job)
    rows = []
    for steps in STEPS:
        a, b = ours["steps"][str(steps)], ref["steps"][str(steps)]
        full = ours["steps_all_logits"][str(steps)]
        rows.append(
            {
                "steps": steps,
                "texpaste_ms": 1e3 * statistics.mean(a),
                "reference_ms": 1e3 * statistics.mean(b),
                "speedup": statistics.mean(b) / statistics.mean(a),
                "images": len(a),
                "texpaste_all_logits_ms": 1e3 * statistics.mean(full),
                "speedup_all_logits": statistics.mean(b) / statistics.mean(full),
            }
        )
    result = {
        "machine": machine(),
        "threads": args.threads,
        "repeats": args.repeats,
        "shapes": [list(x.shape) for x in inputs],
        "decode": rows,
        "load_s": {"texpaste": ours["load_s"], "reference": ref["load_s"]},
        "peak_rss_mb": {"texpaste": ours["peak_rss_mb"], "reference": ref["peak_rss_mb"]},
        "texpaste_stages_ms": ours["stages_ms"],
    }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    for r in rows:
        print(
            f"{r['steps']:>4} steps: texpaste {r['texpaste_ms']:8.1f} ms  reference {r['reference_ms']:8.1f} ms  "
            f"speed-up {r['speedup']:.1f}x  (all 8000 logits: {r['speedup_all_logits']:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
