"""ModelConfig: the architecture hyper-parameters, spelled with pix2tex's config.yaml keys.

A model directory's ``config.yaml`` is read into this dataclass; unknown keys (pix2tex's
training settings such as ``lr`` or ``data``) are kept in ``extra`` and otherwise ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from texpaste.errors import ModelError
from texpaste.typed import structure


@dataclass
class ModelConfig:
    # encoder (timm ResNetV2 hybrid + ViT)
    backbone_layers: list[int] = field(default_factory=lambda: [2, 3, 7])
    channels: int = 1
    patch_size: int = 16
    dim: int = 256
    encoder_depth: int = 4
    encoder_heads: int | None = None  # pix2tex uses ``heads`` for both; None means "same as heads"
    backbone_channels: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048])
    backbone_stem_chs: int = 64
    # decoder (x-transformers 0.15.0 layout)
    num_layers: int = 4
    heads: int = 8
    dim_head: int = 64
    ff_mult: int = 4
    num_tokens: int = 8000
    max_seq_len: int = 512
    decoder_args: dict[str, Any] = field(
        default_factory=lambda: {
            "attn_on_attn": True,
            "cross_attend": True,
            "ff_glu": True,
            "rel_pos_bias": False,
            "use_scalenorm": False,
        }
    )
    # image geometry (pixels)
    max_height: int = 192
    max_width: int = 672
    min_height: int = 32
    min_width: int = 32
    # special tokens
    bos_token: int = 1
    eos_token: int = 2
    pad_token: int = 0
    temperature: float = 0.2
    encoder_structure: str = "hybrid"
    # texpaste's own keys (pix2tex's configs lack them; the defaults describe pix2tex's model)
    glyph_height: float = 12.8  # px the glyphs are rescaled to before preprocessing; 0 = never rescale
    # inference only: decode the image at each of these glyph heights (px) and keep the answer the
    # model scores highest (engine.recognizer); empty = ``glyph_height`` alone, as in training
    glyph_heights: list[float] = field(default_factory=list)
    tokens_per_cell: float = 20.0  # length bound: 16 + this many tokens per 32x32 cell of the input; 0 = none
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def decode_heights(self) -> list[float]:
        """The glyph heights inference decodes at: ``glyph_heights``, else the training height."""
        return list(self.glyph_heights) or [self.glyph_height]

    @property
    def vit_heads(self) -> int:
        return self.encoder_heads or self.heads

    @property
    def grid_width(self) -> int:
        """Patches per row of the largest image: the stride of pix2tex's positional index."""
        return self.max_width // self.patch_size

    @property
    def max_patches(self) -> int:
        return (self.max_height // self.patch_size) * self.grid_width

    def validate(self) -> ModelConfig:
        if self.encoder_structure != "hybrid":
            raise ModelError(f"Only the 'hybrid' encoder is supported, not '{self.encoder_structure}'.")
        unsupported = {k for k in ("rel_pos_bias", "use_scalenorm") if self.decoder_args.get(k)}
        if unsupported or not self.decoder_args.get("cross_attend", True):
            raise ModelError(
                f"Unsupported decoder_args in model config: {sorted(unsupported) or ['cross_attend']}."
            )
        stride = 2 ** (len(self.backbone_layers) + 1)
        if self.patch_size != stride:
            raise ModelError(f"patch_size must be {stride} for {len(self.backbone_layers)} backbone stages.")
        widths = [
            self.backbone_stem_chs,
            *(c // 4 for c in self.backbone_channels[: len(self.backbone_layers)]),
        ]
        if any(w % 32 for w in widths) or len(self.backbone_channels) < len(self.backbone_layers):
            raise ModelError(
                "backbone_stem_chs and backbone_channels/4 must be multiples of 32 (GroupNorm groups)."
            )
        if self.max_width % 32 or self.max_height % 32:
            raise ModelError("max_width and max_height must be multiples of 32.")
        return self

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelConfig:
        """pix2tex's config.yaml keys; the ones of its training settings are kept in ``extra``."""
        cfg, extra = structure(cls, raw, where="Model config", error=ModelError, unknown="keep")
        cfg.extra = extra
        if isinstance(raw.get("decoder_args"), dict):  # given keys replace the defaults one by one
            cfg.decoder_args = {**cls().decoder_args, **raw["decoder_args"]}
        return cfg.validate()

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"Cannot read model config {path}: {exc.strerror or exc}.") from exc
        except yaml.YAMLError as exc:  # its text spans lines (context, marks); keep the problem and line
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ModelError(f"Cannot read model config {path}: {problem}{where}.") from exc
        if not isinstance(raw, dict):
            raise ModelError(f"Model config {path} is not a YAML mapping.")
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=True), encoding="utf-8")
