"""Decoding strategies over the cached decoder: greedy, pix2tex-style sampling, beam search.

All of them encode nothing themselves: they take the encoder output (B, S, D) and return
token ids without BOS, cut at (and excluding) EOS, with a score = mean log-probability per
generated token (EOS included), so exp(score) reads as a per-token confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .decoder import Decoder


@dataclass
class Hypothesis:
    tokens: list[int]
    score: float


def top_k_filter(logits: torch.Tensor, thres: float = 0.9) -> torch.Tensor:
    """pix2tex's top-k: keep the ``int((1 - thres) * V)`` largest logits, the rest -inf."""
    k = max(1, int((1 - thres) * logits.shape[-1]))
    values, index = logits.topk(k, dim=-1)
    return torch.full_like(logits, float("-inf")).scatter_(-1, index, values)


def _trim(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos)] if eos in row else row


@torch.inference_mode()
def sample(
    decoder: Decoder,
    context: torch.Tensor,
    *,
    bos: int,
    eos: int,
    max_len: int,
    temperature: float = 0.0,
    top_k_thres: float = 0.9,
    context_mask: torch.Tensor | None = None,
    ignore_eos: bool = False,
    generator: torch.Generator | None = None,
    vocab: int | None = None,
) -> list[Hypothesis]:
    """Greedy decoding (temperature 0, deterministic) or top-k sampling at ``temperature``.

    ``ignore_eos`` decodes exactly ``max_len`` steps (benchmarks with random weights); ``vocab``
    restricts the choice to ids below it (the tokenizer's vocabulary).
    """
    B = context.shape[0]
    max_len = min(max_len, decoder.cfg.max_seq_len)
    state = decoder.start(context, max_len, context_mask, vocab)
    token = torch.full((B,), bos, dtype=torch.long, device=context.device)
    out = torch.empty(B, max_len, dtype=torch.long, device=context.device)
    logprob = torch.zeros(B, device=context.device)
    length = torch.zeros(B, device=context.device)
    done = torch.zeros(B, dtype=torch.bool, device=context.device)
    steps = 0
    for steps in range(1, max_len + 1):
        logits = decoder.step(token, state).float()  # (B, V)
        if temperature <= 0:
            token = logits.argmax(-1)
        else:
            probs = F.softmax(top_k_filter(logits, top_k_thres) / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        live = ~done
        logprob += torch.where(live, F.log_softmax(logits, -1).gather(1, token[:, None])[:, 0], 0.0)
        length += live.float()
        out[:, steps - 1] = token
        done |= token == eos
        if not ignore_eos and bool(done.all()):
            break
    rows = out[:, :steps].tolist()
    scores = (logprob / length.clamp(min=1)).tolist()
    return [Hypothesis(_trim(r, eos) if not ignore_eos else r, s) for r, s in zip(rows, scores)]


@torch.inference_mode()
def beam_search(
    decoder: Decoder,
    context: torch.Tensor,
    *,
    bos: int,
    eos: int,
    max_len: int,
    beams: int = 4,
    context_mask: torch.Tensor | None = None,
    vocab: int | None = None,
) -> list[list[Hypothesis]]:
    """The ``beams`` best sequences per image, best first, ranked by mean log-probability."""
    B, device = context.shape[0], context.device
    k = beams
    max_len = min(max_len, decoder.cfg.max_seq_len)
    ctx = context.repeat_interleave(k, dim=0)  # (B*k, S, D)
    mask = None if context_mask is None else context_mask.repeat_interleave(k, dim=0)
    state = decoder.start(ctx, max_len, mask, vocab)
    scores = torch.full((B, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    lengths = torch.zeros(B, k, device=device)
    done = torch.zeros(B, k, dtype=torch.bool, device=device)
    seqs = torch.empty(B, k, 0, dtype=torch.long, device=device)
    token = torch.full((B * k,), bos, dtype=torch.long, device=device)
    base = torch.arange(B, device=device)[:, None] * k
    for _ in range(max_len):
        logp = F.log_softmax(decoder.step(token, state).float(), dim=-1).view(B, k, -1)  # (B, k, V)
        V = logp.shape[-1]
        # a finished hypothesis only extends with EOS at no cost, so it keeps its score
        logp = torch.where(done[..., None], torch.full_like(logp, float("-inf")), logp)
        logp[..., eos] = torch.where(done, 0.0, logp[..., eos])
        # rank by mean log-prob so short and long hypotheses compete fairly
        new_len = lengths + (~done).float()
        total = scores[..., None] + logp  # (B, k, V)
        ranked = total / new_len[..., None].clamp(min=1)
        _, flat = ranked.view(B, -1).topk(k, dim=-1)  # (B, k)
        beam, token_bk = flat // V, flat % V
        scores = total.view(B, -1).gather(1, flat)
        lengths = new_len.gather(1, beam)
        done = done.gather(1, beam) | (token_bk == eos)
        seqs = torch.cat(
            [seqs.gather(1, beam[..., None].expand(-1, -1, seqs.shape[2])), token_bk[..., None]], dim=2
        )
        state.reorder((base + beam).flatten())
        token = token_bk.flatten()
        if bool(done.all()):
            break
    final = (scores / lengths.clamp(min=1)).tolist()
    results = []
    for b in range(B):
        hyps = [Hypothesis(_trim(seqs[b, j].tolist(), eos), final[b][j]) for j in range(k)]
        hyps.sort(key=lambda h: h.score, reverse=True)
        results.append(hyps)
    return results
