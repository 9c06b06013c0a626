"""``texpaste models init``: a model directory with random weights (tests and benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from texpaste.assets import PIX2TEX_CONFIG, PIX2TEX_TOKENIZER
from texpaste.errors import ModelError
from texpaste.model.checkpoint import save_state_dict
from texpaste.model.config import ModelConfig
from texpaste.model.network import Pix2TexModel
from texpaste.model.resizer import build_resizer


def init_model_dir(
    out: str | Path | None,
    *,
    config: str | Path | None = None,
    seed: int = 0,
    resizer: bool = False,
    tokenizer: str | Path | None = None,
) -> Path:
    """Write config.yaml, weights.pth (random, seeded), tokenizer.json (+ image_resizer.pth)."""
    if not out:
        raise ModelError("models init needs an output directory.")
    out = Path(out)
    cfg = ModelConfig.from_yaml(config or PIX2TEX_CONFIG)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    save_state_dict(Pix2TexModel(cfg), out / "weights.pth")
    if resizer:
        save_state_dict(build_resizer(cfg), out / "image_resizer.pth")
    cfg.to_yaml(out / "config.yaml")
    shutil.copy(tokenizer or PIX2TEX_TOKENIZER, out / "tokenizer.json")
    return out
