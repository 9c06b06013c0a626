"""The hybrid image encoder: timm ResNetV2 backbone -> 1x1 projection -> ViT blocks.

Module names match pix2tex's ``encoder.*`` keys so the official checkpoint loads as is.
Only ``forward_features``-level code is used: timm >= 0.6's pooled ``forward`` would return
one vector per image instead of the token sequence the decoder attends to.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import StdConv2dSame, trunc_normal_
from timm.models.resnetv2 import ResNetV2
from timm.models.vision_transformer import Block
from torch import nn

from texpaste.model.config import ModelConfig


class PatchEmbed(nn.Module):
    """CNN features as tokens: ResNetV2 (stride 16) then a 1x1 conv to the model width."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.backbone = ResNetV2(
            layers=cfg.backbone_layers,
            channels=tuple(cfg.backbone_channels),
            stem_chs=cfg.backbone_stem_chs,
            num_classes=0,
            global_pool="",
            in_chans=cfg.channels,
            preact=False,
            stem_type="same",
            conv_layer=StdConv2dSame,
        )
        self.proj = nn.Conv2d(self.backbone.num_features, cfg.dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone.forward_features(x)  # (B, C, H/16, W/16)
        x = self.proj(x)  # (B, D, h, w)
        return x.flatten(2).transpose(1, 2)  # (B, h*w, D), row-major


class Encoder(nn.Module):
    """Image (B, 1, H, W) -> context tokens (B, 1 + h*w, D), cls token first."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.patch_size = cfg.patch_size
        self.grid_width = cfg.grid_width
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.max_patches + 1, cfg.dim))
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.Sequential(
            *[
                Block(cfg.dim, cfg.vit_heads, mlp_ratio=4.0, qkv_bias=True, norm_layer=norm)
                for _ in range(cfg.encoder_depth)
            ]
        )
        self.norm = norm(cfg.dim)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)

    def position_ids(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """pix2tex's layout: patch (i, j) sits at ``i * grid_width + j + 1`` of the max grid; cls is 0."""
        h, w = height // self.patch_size, width // self.patch_size
        rows = torch.arange(h, device=device)[:, None] * self.grid_width
        cols = torch.arange(w, device=device)[None, :]
        patches = (rows + cols).flatten() + 1  # (h*w,)
        return torch.cat([patches.new_zeros(1), patches])  # (1 + h*w,)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        B, _, H, W = images.shape
        x = self.patch_embed(images)  # (B, h*w, D)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)  # (B, 1 + h*w, D)
        x = x + self.pos_embed[:, self.position_ids(H, W, images.device)]
        x = self.blocks(x)
        return self.norm(x)
