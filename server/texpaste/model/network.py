"""The whole recognition network: ``encoder`` + ``decoder``, the top level of pix2tex's state dict."""

from __future__ import annotations

import torch
from torch import nn

from texpaste.model.config import ModelConfig
from texpaste.model.decoder import Decoder
from texpaste.model.encoder import Encoder


class Pix2TexModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for the images (B, 1, H, W) and input tokens (B, T)."""
        return self.decoder(tokens, self.encoder(images))
