"""Ship a trained model as the bundled ``texpaste-small``: copy it into the package and measure it.

    .venv/bin/python scripts/ship_model.py RUN/best [--formulas VALIDATION_FILE] [--n 1000]
    .venv/bin/python scripts/ship_model.py --metrics-only     (re-measure the bundled model in place)

Writes ``server/texpaste/assets/texpaste-small/`` (config.yaml, float16 weights.pth, tokenizer.json)
and ``metrics.json`` beside them: the validation metrics on ``--n`` formulas rendered by the project's
TeX renderer, on ``--n-styles`` formulas per screenshot style (``texpaste eval --styles screenshots``),
and on the 50 regression formulas that ``tests/test_shipped_model.py`` guards; and the doubt threshold
(``doubt_threshold`` in config.yaml) calibrated on those validation answers, with how well it flags wrong ones.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import yaml

from texpaste.assets import BUNDLED_MODEL_DIR
from texpaste.model.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
TARGET = BUNDLED_MODEL_DIR
REGRESSION = ROOT / "tests" / "data" / "regression_formulas.txt"
MAX_BYTES = 25 * 10**6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, nargs="?", help="a model directory (e.g. RUN/best)")
    p.add_argument(
        "--metrics-only",
        action="store_true",
        help="keep the bundled weights and config, re-measure them and rewrite metrics.json",
    )
    p.add_argument(
        "--formulas",
        type=Path,
        default=ROOT.parent / "shared/data/formulas/valid/im2latex100k_validate.txt.gz",
    )
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--n-styles", type=int, default=100, help="formulas per screenshot style")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--notes", default="", help="training notes to record (steps, hours, hardware)")
    args = p.parse_args()

    from texpaste.training.evaluate import SCREENSHOT_STYLES, EvalSettings, evaluate, evaluate_styles
    from texpaste.training.metrics import calibrate_doubt

    if args.model is None and not args.metrics_only:
        p.error("give a model directory, or --metrics-only")
    tmp = TARGET.with_name("texpaste-small.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.metrics_only:  # the same bytes, so git stores no second copy of the weights
        shutil.copytree(TARGET, tmp)
        state = torch.load(tmp / "weights.pth", map_location="cpu", weights_only=True)
    else:
        tmp.mkdir()
        state = torch.load(args.model / "weights.pth", map_location="cpu", weights_only=True)
        torch.save(
            {k: v.half() if v.is_floating_point() else v for k, v in state.items()}, tmp / "weights.pth"
        )
        shutil.copy(args.model / "config.yaml", tmp / "config.yaml")
        shutil.copy(args.model / "tokenizer.json", tmp / "tokenizer.json")
    size = (tmp / "weights.pth").stat().st_size
    if size > MAX_BYTES:
        sys.exit(f"ship_model: weights are {size / 1e6:.1f} MB, over the 25 MB budget.")
    t = time.perf_counter()
    val_report = evaluate(tmp, args.formulas, EvalSettings(n=args.n, threads=args.threads))
    val = val_report["metrics"]
    reg = evaluate(tmp, REGRESSION, EvalSettings(n=50, threads=args.threads))["metrics"]
    shots = evaluate_styles(
        tmp, args.formulas, EvalSettings(n=args.n_styles, threads=args.threads), SCREENSHOT_STYLES
    )
    # Doubtful results: the score threshold that separates exact from wrong answers best, over the TeX
    # renders and every screenshot style together; the engine flags answers below it.
    pooled = [*val_report["samples"], *(r for rows in shots["samples"].values() for r in rows)]
    doubt = calibrate_doubt([r["score"] for r in pooled], [bool(r["exact"]) for r in pooled])
    config = yaml.safe_load((tmp / "config.yaml").read_text(encoding="utf-8"))
    config["doubt_threshold"] = doubt["threshold"]
    (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    metrics = {
        "doubt": {"sets": "validation + screenshots, greedy", **doubt},
        "validation": {
            "formulas": args.formulas.name,
            "settings": "tex, cm, 120 dpi, greedy, batches of 10, runaway guard on, glyphs at "
            + " and ".join(f"{h:g}" for h in ModelConfig.from_dict(config).decode_heights)
            + " px (the best-scored answer kept)",
            **val,
        },
        "screenshots": {
            "formulas": args.formulas.name,
            "per_style": args.n_styles,
            "mean": shots["metrics"],
            **shots["styles"],
        },
        "regression_50": reg,
        "weights_bytes": size,
        "parameters": sum(v.numel() for v in state.values()),
        "notes": args.notes
        or (json.loads((TARGET / "metrics.json").read_text()).get("notes", "") if args.metrics_only else ""),
        "eval_seconds": round(time.perf_counter() - t, 1),
    }
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shutil.rmtree(TARGET, ignore_errors=True)
    tmp.rename(TARGET)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
