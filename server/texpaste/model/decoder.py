"""The autoregressive LaTeX decoder, texpaste's own modules mirroring x-transformers 0.15.0.

The module tree reproduces the keys of pix2tex's ``decoder.*`` state dict (``net.token_emb``,
``net.pos_emb.emb``, ``net.attn_layers.layers.{i}.{0,1}``, ``net.norm``, ``net.to_logits``) and
its math: pre-norm sublayers in the order self-attention / cross-attention / feed-forward,
attention-on-attention output (Linear + GLU), GEGLU feed-forward, learned absolute positions.

Two paths share the weights: ``forward`` runs a whole sequence (training, parity checks);
``start`` + ``step`` decode one token at a time with a key/value cache, computing the
cross-attention keys/values once per image and logits only for the newest position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


class Attention(nn.Module):
    """Multi-head attention with bias-free q/k/v and an attention-on-attention (GLU) output."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim * 2), nn.GLU(dim=-1))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.heads, self.dim_head).transpose(1, 2)  # (B, h, T, dh)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.heads * self.dim_head)  # (B, T, h*dh)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, causal: bool = False
    ) -> torch.Tensor:
        kv = x if context is None else context
        q = self.split_heads(self.to_q(x))  # (B, h, T, dh)
        k = self.split_heads(self.to_k(kv))  # (B, h, S, dh)
        v = self.split_heads(self.to_v(kv))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, h, T, dh)
        return self.to_out(self.merge_heads(out))  # (B, T, D)


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int):
        super().__init__()
        # index 1 is x-transformers' (zero) dropout; kept so the Linear stays at ``net.2``
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AbsolutePositionalEmbedding(nn.Module):
    def __init__(self, dim: int, max_seq_len: int):
        super().__init__()
        self.emb = nn.Embedding(max_seq_len, dim)


class AttentionLayers(nn.Module):
    """``depth`` x (self-attn, cross-attn, feed-forward), each ``[LayerNorm, block]`` with a residual."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(cfg.num_layers):
            for block in (
                Attention(cfg.dim, cfg.heads, cfg.dim_head),
                Attention(cfg.dim, cfg.heads, cfg.dim_head),
                FeedForward(cfg.dim, cfg.ff_mult),
            ):
                self.layers.append(nn.ModuleList([nn.LayerNorm(cfg.dim), block]))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for i, (norm, block) in enumerate(self.layers):
            kind = i % 3
            h = norm(x)
            if kind == 0:
                x = x + block(h, causal=True)
            elif kind == 1:
                x = x + block(h, context=context)
            else:
                x = x + block(h)
        return x


class DecoderNet(nn.Module):
    """Token + position embeddings -> attention layers -> final norm -> logits (x-transformers' TransformerWrapper)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.max_seq_len = cfg.max_seq_len
        self.token_emb = nn.Embedding(cfg.num_tokens, cfg.dim)
        self.pos_emb = AbsolutePositionalEmbedding(cfg.dim, cfg.max_seq_len)
        self.attn_layers = AttentionLayers(cfg)
        self.norm = nn.LayerNorm(cfg.dim)
        self.to_logits = nn.Linear(cfg.dim, cfg.num_tokens)

    def embed(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = tokens.shape[1]
        positions = torch.arange(offset, offset + T, device=tokens.device)
        return self.token_emb(tokens) + self.pos_emb.emb(positions)  # (B, T, D)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.attn_layers(self.embed(tokens), context)
        return self.to_logits(self.norm(x))  # (B, T, V)


@dataclass
class DecodeState:
    """Per-batch decoding cache: fused self-attention weights, cross K/V, growing self K/V."""

    self_qkv: list[torch.Tensor]  # per layer (3*inner, D)
    cross_k: list[torch.Tensor]  # per layer (B, h, S, dh)
    cross_v: list[torch.Tensor]
    cache_k: list[torch.Tensor]  # per layer (B, h, max_len, dh)
    cache_v: list[torch.Tensor]
    cross_mask: torch.Tensor | None = None  # (B, 1, 1, S) True where a context token is real
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search): caches follow their hypotheses."""
        for caches in (self.cross_k, self.cross_v, self.cache_k, self.cache_v):
            for i, t in enumerate(caches):
                caches[i] = t.index_select(0, index)
        if self.cross_mask is not None:
            self.cross_mask = self.cross_mask.index_select(0, index)


class Decoder(nn.Module):
    """Holds ``net`` (the checkpoint's ``decoder.net.*``) and the cached incremental decoding path."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.net = DecoderNet(cfg)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for tokens (B, T) given encoder output (B, S, D)."""
        return self.net(tokens, context)

    def _layers(self):
        layers = self.net.attn_layers.layers
        return [(layers[i], layers[i + 1], layers[i + 2]) for i in range(0, len(layers), 3)]

    def start(
        self, context: torch.Tensor, max_len: int, context_mask: torch.Tensor | None = None
    ) -> DecodeState:
        """Precompute everything that does not depend on the tokens still to come.

        ``context_mask`` (B, S) marks real context tokens when images of different sizes share a
        batch (their contexts padded to the longest); masked tokens get no attention.
        """
        B = context.shape[0]
        cfg = self.cfg
        max_len = min(max_len, cfg.max_seq_len)
        mask = None if context_mask is None else context_mask[:, None, None, :]
        state = DecodeState([], [], [], [], [], cross_mask=mask)
        for (_, sa), (_, ca), _ in self._layers():
            state.self_qkv.append(torch.cat([sa.to_q.weight, sa.to_k.weight, sa.to_v.weight]))
            state.cross_k.append(ca.split_heads(ca.to_k(context)))  # (B, h, S, dh)
            state.cross_v.append(ca.split_heads(ca.to_v(context)))
            shape = (B, cfg.heads, max_len, cfg.dim_head)
            state.cache_k.append(context.new_empty(shape))
            state.cache_v.append(context.new_empty(shape))
        return state

    def step(self, tokens: torch.Tensor, state: DecodeState) -> torch.Tensor:
        """Logits (B, V) for the next position, given the newest token of each row (B,)."""
        t = state.length
        if t >= state.cache_k[0].shape[2]:
            raise ValueError("decoding past the maximum sequence length")
        x = self.net.embed(tokens[:, None], offset=t)  # (B, 1, D)
        inner = self.cfg.heads * self.cfg.dim_head
        for li, ((n1, sa), (n2, ca), (n3, ff)) in enumerate(self._layers()):
            qkv = F.linear(n1(x), state.self_qkv[li])  # (B, 1, 3*inner)
            q, k, v = (sa.split_heads(p) for p in qkv.split(inner, dim=-1))  # (B, h, 1, dh)
            state.cache_k[li][:, :, t : t + 1] = k
            state.cache_v[li][:, :, t : t + 1] = v
            out = F.scaled_dot_product_attention(
                q, state.cache_k[li][:, :, : t + 1], state.cache_v[li][:, :, : t + 1]
            )
            x = x + sa.to_out(sa.merge_heads(out))
            q = ca.split_heads(ca.to_q(n2(x)))
            out = F.scaled_dot_product_attention(
                q, state.cross_k[li], state.cross_v[li], attn_mask=state.cross_mask
            )
            x = x + ca.to_out(ca.merge_heads(out))
            x = x + ff(n3(x))
        state.length = t + 1
        return self.net.to_logits(self.net.norm(x[:, 0]))  # (B, V)
