"""The model inside the package: loads with no network and keeps its measured accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from texpaste.assets import BUNDLED_MODEL_DIR
from texpaste.training.evaluate import EvalSettings, evaluate

SHIPPED = BUNDLED_MODEL_DIR
REGRESSION = Path(__file__).parent / "data" / "regression_formulas.txt"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_shipped_model_is_complete_and_small():
    names = {p.name for p in SHIPPED.iterdir()}
    assert {"config.yaml", "weights.pth", "tokenizer.json", "metrics.json"} <= names
    assert (SHIPPED / "weights.pth").stat().st_size <= 25 * 10**6


def test_default_model_works_offline_and_says_so(tmp_path):
    """No cached pix2tex and no network: the bundled model answers, with a one-line notice."""
    env = {"TEXPASTE_CACHE_DIR": str(tmp_path), "TEXPASTE_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "texpaste", "recognize", *sorted(map(str, EXAMPLES.glob("*.png")))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "texpaste-small" in out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(list(EXAMPLES.glob("*.png"))) and all(lines)


def test_regression_metrics_hold():
    recorded = json.loads((SHIPPED / "metrics.json").read_text())["regression_50"]
    got = evaluate(SHIPPED, REGRESSION, EvalSettings(n=50, threads=2))["metrics"]
    assert got["n"] == recorded["n"]
    assert got["bleu"] >= recorded["bleu"] - 0.02
    assert got["edit_distance"] <= recorded["edit_distance"] + 0.02
    assert got["exact_match"] >= recorded["exact_match"] - 0.04
