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

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from texpaste.model.config import ModelConfig


class Attention(nn.Module):
    """Multi-head attention with bias-free q/k/v and an attention-on-attention (GLU) output.

    ``fused`` (the default) runs torch's fused attention kernel; off, the same attention is two
    matrix products and a softmax, which trains faster in bfloat16 on a CPU
    (:func:`texpaste.model.network.use_fused_attention`)."""

    fused: bool = True

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
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, h, T, dh)
        else:
            out = matmul_attention(q, k, v, causal)
        return self.to_out(self.merge_heads(out))  # (B, T, D)


def matmul_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """softmax(q k^T / sqrt(dh) [+ causal mask]) v for (B, h, T, dh) queries and (B, h, S, dh) keys/values."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (B, h, T, S)
    if causal:  # in place: the product's backward does not need its output
        T, S = scores.shape[-2:]
        scores.masked_fill_(torch.ones(T, S, dtype=torch.bool, device=scores.device).triu(1), float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, h, T, dh)


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

    def forward(
        self, tokens: torch.Tensor, context: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.attn_layers(self.embed(tokens), context)  # (B, T, D)
        if keep is not None:  # training: no logits for padding (a quarter of the positions)
            x = x[keep]  # (N, D)
        return self.to_logits(self.norm(x))  # (B, T, V) or (N, V)


@dataclass
class StepWeights:
    """The decoder's wide weights transposed to (in, out) for one-row products, once per weight version.

    A decoding step multiplies one row per image by every weight matrix, so it is bound by reading
    the weights. For the wide projections (fused q/k/v, GEGLU input, logits) streaming (in, out)
    rows measured 2-3x faster on a CPU than nn.Linear's (out, in) layout; the square and narrow
    ones were as fast or faster as they are, so they stay shared with the module. Built lazily,
    rebuilt when a parameter changes (training).
    """

    layers: list[dict[str, torch.Tensor]]
    head_weight: torch.Tensor  # (num_tokens, D), the module's
    head_bias: torch.Tensor
    _heads: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def logits(self, vocab: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(D, V) contiguous weight and (V,) bias of the output head for the first ``vocab`` ids."""
        V = vocab or self.head_weight.shape[0]
        if V not in self._heads:
            self._heads[V] = (self.head_weight[:V].t().contiguous(), self.head_bias[:V])
        return self._heads[V]


@dataclass
class DecodeState:
    """Per-batch decoding cache, laid out for batched matrix products over (batch * heads).

    The attention scale is folded into the step weights' query columns and into the precomputed
    cross-attention keys, so a step spends no operation on it.
    """

    cross_kt: list[torch.Tensor]  # per layer (B*h, dh, S), pre-scaled and transposed
    cross_v: list[torch.Tensor]  # per layer (B*h, S, dh)
    cache_k: list[torch.Tensor]  # per layer (B*h, max_len, dh)
    cache_v: list[torch.Tensor]
    heads: int
    cross_bias: torch.Tensor | None = None  # (B*h, 1, S): 0 for real context tokens, -inf for padding
    vocab: int | None = None  # compute logits for ids < vocab only (None: all num_tokens)
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search): caches follow their hypotheses."""
        rows = (index[:, None] * self.heads + torch.arange(self.heads, device=index.device)).flatten()
        for caches in (self.cross_kt, self.cross_v, self.cache_k, self.cache_v):
            for i, t in enumerate(caches):
                caches[i] = t.index_select(0, rows)
        if self.cross_bias is not None:
            self.cross_bias = self.cross_bias.index_select(0, rows)


class Decoder(nn.Module):
    """Holds ``net`` (the checkpoint's ``decoder.net.*``) and the cached incremental decoding path."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.net = DecoderNet(cfg)
        self._step_weights: tuple[tuple, StepWeights] | None = None

    def forward(
        self, tokens: torch.Tensor, context: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for tokens (B, T) given encoder output (B, S, D); only
        the positions ``keep`` (B, T) marks, (N, V), when given."""
        return self.net(tokens, context, keep)

    @torch.no_grad()
    def step_weights(self) -> StepWeights:
        params = list(self.parameters())
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in params)
        if self._step_weights is None or self._step_weights[0] != key:
            scale = self.cfg.dim_head**-0.5
            layers = []
            for (n1, sa), (n2, ca), (n3, ff) in self._layers():
                qkv = torch.cat([sa.to_q.weight * scale, sa.to_k.weight, sa.to_v.weight])
                layers.append(
                    {
                        "ln1": n1,
                        "ln2": n2,
                        "ln3": n3,
                        "qkv": qkv.t().contiguous(),  # (D, 3*inner)
                        "self_out": sa.to_out[0].weight,
                        "self_out_b": sa.to_out[0].bias,
                        "cross_q": ca.to_q.weight,
                        "cross_out": ca.to_out[0].weight,
                        "cross_out_b": ca.to_out[0].bias,
                        "ff_in": ff.net[0].proj.weight.t().contiguous(),
                        "ff_in_b": ff.net[0].proj.bias,
                        "ff_out": ff.net[2].weight,
                        "ff_out_b": ff.net[2].bias,
                    }
                )
            head = self.net.to_logits
            built = StepWeights(layers, head.weight, head.bias)
            self._step_weights = (key, built)
        return self._step_weights[1]

    def _layers(self):
        layers = self.net.attn_layers.layers
        return [(layers[i], layers[i + 1], layers[i + 2]) for i in range(0, len(layers), 3)]

    def start(
        self,
        context: torch.Tensor,
        max_len: int,
        context_mask: torch.Tensor | None = None,
        vocab: int | None = None,
    ) -> DecodeState:
        """Precompute everything that does not depend on the tokens still to come.

        ``context_mask`` (B, S) marks real context tokens when images of different sizes share a
        batch (their contexts padded to the longest); masked tokens get no attention. ``vocab``
        limits the logits to the ids a tokenizer can spell (pix2tex's head has 8000 outputs for a
        1175-entry vocabulary): a fifth of the weights a decoding step reads.
        """
        B, S, _ = context.shape
        cfg = self.cfg
        H, dh = cfg.heads, cfg.dim_head
        scale = dh**-0.5
        max_len = min(max_len, cfg.max_seq_len)
        bias = None
        if context_mask is not None:
            bias = torch.zeros(B, 1, S, dtype=context.dtype, device=context.device)
            bias.masked_fill_(~context_mask[:, None, :], float("-inf"))
            bias = bias.repeat_interleave(H, dim=0)  # (B*h, 1, S)
        state = DecodeState([], [], [], [], heads=H, cross_bias=bias, vocab=vocab)
        for _, (_, ca), _ in self._layers():
            k = ca.to_k(context).view(B, S, H, dh).permute(0, 2, 3, 1) * scale  # (B, h, dh, S)
            state.cross_kt.append(k.reshape(B * H, dh, S).contiguous())
            state.cross_v.append(ca.to_v(context).view(B, S, H, dh).transpose(1, 2).reshape(B * H, S, dh))
            state.cache_k.append(context.new_empty(B * H, max_len, dh))
            state.cache_v.append(context.new_empty(B * H, max_len, dh))
        return state

    def step(self, tokens: torch.Tensor, state: DecodeState) -> torch.Tensor:
        """Logits (B, V) for the next position, given the newest token of each row (B,).

        Written with plain functional calls on (batch * heads) tensors: on a CPU a decoding step
        is bound by per-operation overhead and weight reads, so fewer and larger operations win.
        """
        t = state.length
        if t >= state.cache_k[0].shape[1]:
            raise ValueError("decoding past the maximum sequence length")
        net, cfg, w = self.net, self.cfg, self.step_weights()
        B, H, dh = tokens.shape[0], cfg.heads, cfg.dim_head
        inner = H * dh
        x = net.token_emb(tokens) + net.pos_emb.emb.weight[t]  # (B, D)
        for li, lw in enumerate(w.layers):
            n1, n2, n3 = lw["ln1"], lw["ln2"], lw["ln3"]
            h = F.layer_norm(x, n1.normalized_shape, n1.weight, n1.bias, n1.eps)
            qkv = torch.mm(h, lw["qkv"]).view(B, 3, H, dh)  # (B, 3, h, dh)
            k_cache, v_cache = state.cache_k[li], state.cache_v[li]
            k_cache[:, t] = qkv[:, 1].reshape(B * H, dh)
            v_cache[:, t] = qkv[:, 2].reshape(B * H, dh)
            q = qkv[:, 0].reshape(B * H, 1, dh)
            attn = torch.bmm(q, k_cache[:, : t + 1].transpose(1, 2)).softmax(-1)  # (B*h, 1, t+1)
            out = torch.bmm(attn, v_cache[:, : t + 1]).view(B, inner)
            x = x + F.glu(F.linear(out, lw["self_out"], lw["self_out_b"]), dim=-1)
            h = F.layer_norm(x, n2.normalized_shape, n2.weight, n2.bias, n2.eps)
            q = F.linear(h, lw["cross_q"]).view(B * H, 1, dh)
            if state.cross_bias is None:
                scores = torch.bmm(q, state.cross_kt[li])  # (B*h, 1, S)
            else:
                scores = torch.baddbmm(state.cross_bias, q, state.cross_kt[li])
            out = torch.bmm(scores.softmax(-1), state.cross_v[li]).view(B, inner)
            x = x + F.glu(F.linear(out, lw["cross_out"], lw["cross_out_b"]), dim=-1)
            h = F.layer_norm(x, n3.normalized_shape, n3.weight, n3.bias, n3.eps)
            a, gate = torch.addmm(lw["ff_in_b"], h, lw["ff_in"]).chunk(2, dim=-1)
            x = x + F.linear(a * F.gelu(gate), lw["ff_out"], lw["ff_out_b"])
        state.length = t + 1
        norm = net.norm
        x = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        weight, bias = w.logits(state.vocab)
        return torch.addmm(bias, x, weight)  # (B, V)
