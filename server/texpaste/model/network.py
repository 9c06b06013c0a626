"""The whole recognition network: ``encoder`` + ``decoder``, the top level of pix2tex's state dict."""

from __future__ import annotations

import torch
from timm.layers import Attention as TimmAttention
from torch import nn

from texpaste.model.config import ModelConfig
from texpaste.model.decoder import Attention, Decoder
from texpaste.model.encoder import Encoder


class Pix2TexModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(
        self, images: torch.Tensor, tokens: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for the images (B, 1, H, W) and input tokens (B, T); with
        ``keep`` (B, T) bool, only the kept positions' logits (N, V)."""
        return self.decoder(tokens, self.encoder(images), keep)


def use_fused_attention(model: nn.Module, fused: bool) -> None:
    """Switch every attention of ``model`` (the encoder's timm blocks and the decoder's) between
    torch's fused kernel and plain matrix products with a softmax: the same attention, computed
    differently. The switch is not part of the weights."""
    for module in model.modules():
        if isinstance(module, TimmAttention):
            module.fused_attn = fused
        elif isinstance(module, Attention):
            module.fused = fused
