"""pix2tex's optional image resizer: a small pre-activation ResNetV2 that predicts the width
(in steps of 32 px) at which a formula image is best recognised, iterated to a fixpoint.
"""

from __future__ import annotations

from timm.layers import StdConv2dSame
from timm.models.resnetv2 import ResNetV2

from texpaste.model.config import ModelConfig


def build_resizer(cfg: ModelConfig) -> ResNetV2:
    """The classifier behind ``image_resizer.pth``: class k means "make it (k+1)*32 px wide"."""
    return ResNetV2(
        layers=[2, 3, 3],
        num_classes=max(cfg.max_width, cfg.max_height) // 32,
        global_pool="avg",
        in_chans=cfg.channels,
        drop_rate=0.05,
        preact=True,
        stem_type="same",
        conv_layer=StdConv2dSame,
    )
