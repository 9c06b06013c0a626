"""Greedy-decode held-out examples and score them with pix2tex's metrics (used during training)."""

from __future__ import annotations

import numpy as np
import torch

from texpaste.model.config import ModelConfig
from texpaste.model.generate import Guard, sample
from texpaste.model.network import Pix2TexModel
from texpaste.model.tokenizer import Tokenizer
from texpaste.training.dataset import Example, image_array
from texpaste.training.metrics import EvalAccumulator


@torch.inference_mode()
def validate(
    model: Pix2TexModel,
    cfg: ModelConfig,
    tokenizer: Tokenizer,
    examples: list[Example],
    device: torch.device,
    batch_size: int = 10,
) -> dict[str, float]:
    """BLEU / edit distance / token accuracy / exact match, greedy, pix2tex-style batches of same-size images."""
    model.eval()
    groups: dict[tuple[int, int], list[tuple[torch.Tensor, Example]]] = {}
    for ex in examples:
        arr = image_array(ex.png, cfg, rng=None)
        if isinstance(arr, np.ndarray):  # a corrupt or blank image is not scored
            groups.setdefault(arr.shape, []).append((torch.from_numpy(arr), ex))
    acc = EvalAccumulator(tokenizer.backend)
    for items in groups.values():
        for i in range(0, len(items), batch_size):
            batch = items[i : i + batch_size]
            images = torch.stack([a for a, _ in batch])[:, None].to(device)
            hyps = sample(
                model.decoder,
                model.encoder(images),
                bos=cfg.bos_token,
                eos=cfg.eos_token,
                max_len=cfg.max_seq_len - 1,
                guard=Guard(),  # as the engine decodes: a loop stops early
            )
            pred_ids = [h.tokens + [cfg.eos_token] for h in hyps]
            truth_ids = [ex.ids[1:] for _, ex in batch]
            acc.add_batch(
                [tokenizer.decode(h.tokens) for h in hyps],
                [tokenizer.decode(t) for t in truth_ids],
                pred_ids,
                truth_ids,
            )
    s = acc.summary()
    return {k: float(s[k] or 0.0) for k in ("bleu", "edit_distance", "token_accuracy", "exact_match")}
