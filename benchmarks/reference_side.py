"""The reference half of bench_engine.py; runs in .venv-reference (pix2tex 0.1.4, timm 0.5.4,
x-transformers 0.15.0). pix2tex's own ``get_model`` and ``generate`` do all the work."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))
import oracle  # noqa: E402  (stubs pix2tex's unused heavy imports, builds its args)
import torch  # noqa: E402
from pix2tex.models import get_model  # noqa: E402

STEPS = (30, 150)


def main(job_path: str, result_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    torch.set_num_threads(job["threads"])
    args = oracle.reference_args(job["config"])
    t = time.perf_counter()
    model = get_model(args)
    model.load_state_dict(torch.load(job["weights"], map_location="cpu", weights_only=True), strict=True)
    model.eval()
    load_s = time.perf_counter() - t
    images = torch.load(job["inputs"], weights_only=True)
    out = {"load_s": load_s, "steps": {}}
    with torch.no_grad():
        for steps in STEPS:
            per_image = []
            for x in images[: job["images_for"][str(steps)]]:
                runs = []
                for _ in range(job["repeats"]):
                    t = time.perf_counter()
                    start = torch.LongTensor([args.bos_token])[:, None]
                    # eos_token=None: no early stop, exactly `steps` decoding steps (random weights)
                    model.decoder.generate(
                        start, steps, eos_token=None, context=model.encoder(x), temperature=0.2
                    )
                    runs.append(time.perf_counter() - t)
                per_image.append(statistics.median(runs))
            out["steps"][str(steps)] = per_image
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(result_path).write_text(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
