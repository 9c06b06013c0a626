"""``texpaste models init``: a model directory with random weights (tests and benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ..errors import ModelError
from ..store import ASSETS_DIR
from .checkpoint import save_state_dict
from .config import ModelConfig
from .network import Pix2TexModel
from .resizer import build_resizer


def init_model_dir(out: str | Path | None, *, config: str | Path | None = None, seed: int = 0, resizer: bool = False,
                   tokenizer: str | Path | None = None) -> Path:  # fmt: skip
    """Write config.yaml, weights.pth (random, seeded), tokenizer.json (+ image_resizer.pth)."""
    if not out:
        raise ModelError("models init needs an output directory.")
    out = Path(out)
    cfg = ModelConfig.from_yaml(config or ASSETS_DIR / "pix2tex" / "config.yaml")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    save_state_dict(Pix2TexModel(cfg), out / "weights.pth")
    if resizer:
        save_state_dict(build_resizer(cfg), out / "image_resizer.pth")
    cfg.to_yaml(out / "config.yaml")
    shutil.copy(tokenizer or ASSETS_DIR / "pix2tex" / "tokenizer.json", out / "tokenizer.json")
    return out
