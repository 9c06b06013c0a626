"""Decoding strategies over the cached decoder: greedy, pix2tex-style sampling, beam search.

All of them encode nothing themselves: they take the encoder output (B, S, D) and return
token ids without BOS, cut at (and excluding) EOS, with a score = mean log-probability per
generated token (EOS included), so exp(score) reads as a per-token confidence.

With a :class:`Guard` they also stop a hypothesis that runs away: one stuck repeating a short
token pattern (``\\qquad \\qquad ...``, ``_ { _ { ...``), or one longer than its image can hold.
Such a hypothesis is cut (``finished=False``): kept to its first pass through the loop, and ranked
after every hypothesis that ended with EOS. Without a guard decoding is pix2tex's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from texpaste.model.decoder import Decoder


@dataclass
class Hypothesis:
    tokens: list[int]
    score: float
    finished: bool = True  # ended by EOS; False when cut at the length limit or in a loop


@dataclass(frozen=True)
class Guard:
    """Runaway limits: a repeat of a pattern of up to ``max_period`` tokens is a loop once it has
    covered ``min_span`` tokens in at least ``min_repeats`` passes (one token 32 times, a pair 16
    times, ..., eight tokens 4 times; real labels repeat a 6-token pattern 4 times, ``x x^{*}``);
    ``max_lens`` (B,) bounds each row's length (from the size of its image)."""

    max_period: int = 8
    min_span: int = 32
    min_repeats: int = 4
    max_lens: torch.Tensor | None = None

    def spans(self) -> list[tuple[int, int]]:
        """(period, tokens covered) for each period checked."""
        return [(p, p * max(self.min_repeats, -(-self.min_span // p))) for p in range(1, self.max_period + 1)]

    def loop(self, out: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per row of ``out`` (B, >= t): where a loop ending at step ``t`` began and its period, or
        (-1, 0) for none. The loop's first pass is kept: the cut is at ``start + period``."""
        start = torch.full((out.shape[0],), -1, dtype=torch.long, device=out.device)
        period = torch.zeros_like(start)
        for p, span in reversed(self.spans()):  # shortest period wins
            if span > t:
                continue
            tail = out[:, t - span : t]
            looped = (tail[:, p:] == tail[:, :-p]).all(dim=1)
            start = torch.where(looped, t - span, start)
            period = torch.where(looped, p, period)
        return start, period


def find_loop(tokens: list[int], guard: Guard | None = None) -> int | None:
    """The length ``tokens`` would be cut to by ``guard``'s loop rule, or None when it never loops."""
    guard = guard or Guard()
    out = torch.tensor([tokens], dtype=torch.long)
    for t in range(1, len(tokens) + 1):
        start, period = (int(x[0]) for x in guard.loop(out, t))
        if start >= 0:
            return start + period
    return None


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
    guard: Guard | None = None,
) -> list[Hypothesis]:
    """Greedy decoding (temperature 0, deterministic) or top-k sampling at ``temperature``.

    ``ignore_eos`` decodes exactly ``max_len`` steps (benchmarks with random weights); ``vocab``
    restricts the choice to ids below it (the tokenizer's vocabulary); ``guard`` cuts runaways.
    """
    B = context.shape[0]
    max_len = min(max_len, decoder.cfg.max_seq_len)
    state = decoder.start(context, max_len, context_mask, vocab)
    token = torch.full((B,), bos, dtype=torch.long, device=context.device)
    out = torch.empty(B, max_len, dtype=torch.long, device=context.device)
    logprob = torch.zeros(B, device=context.device)
    length = torch.zeros(B, device=context.device)
    done = torch.zeros(B, dtype=torch.bool, device=context.device)
    cut = torch.full((B,), max_len + 1, dtype=torch.long, device=context.device)  # kept tokens of a cut row
    limit = _row_limits(guard, B, max_len, context.device)
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
        if guard is not None:
            start, period = guard.loop(out, steps)
            runaway = live & (token != eos) & ((start >= 0) | (steps >= limit))
            cut = torch.where(runaway, torch.where(start >= 0, start + period, steps), cut)
            done |= runaway
        if not ignore_eos and bool(done.all()):
            break
    rows = out[:, :steps].tolist()
    scores = (logprob / length.clamp(min=1)).tolist()
    hyps = []
    for r, s, c in zip(rows, scores, cut.tolist()):
        if c <= max_len:
            hyps.append(Hypothesis(r[:c], s, False))
        else:
            hyps.append(Hypothesis(_trim(r, eos) if not ignore_eos else r, s, eos in r))
    return hyps


def _row_limits(guard: Guard | None, B: int, max_len: int, device: torch.device) -> torch.Tensor:
    if guard is None or guard.max_lens is None:
        return torch.full((B,), max_len, dtype=torch.long, device=device)
    return guard.max_lens.to(device=device, dtype=torch.long).clamp(1, max_len)


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
    guard: Guard | None = None,
) -> list[list[Hypothesis]]:
    """The ``beams`` best sequences per image, best first, ranked by mean log-probability.

    Finished hypotheses (ended by EOS) leave the beam for a pool of the ``beams`` best, so the beam
    keeps ``beams`` live ones; an image is done once its pool is full and no live hypothesis ranks
    above the pool's worst (the usual heuristic, as the mean can still move). A hypothesis cut at
    ``max_len`` is a truncated answer: it ranks after every finished one. With a ``guard``, a
    hypothesis caught in a loop leaves the beam for the truncated answers (so the beam's other
    hypotheses go on), and an image stops at its own length limit.
    """
    B, device = context.shape[0], context.device
    k = beams
    max_len = min(max_len, decoder.cfg.max_seq_len)
    ctx = context.repeat_interleave(k, dim=0)  # (B*k, S, D)
    mask = None if context_mask is None else context_mask.repeat_interleave(k, dim=0)
    state = decoder.start(ctx, max_len, mask, vocab)
    scores = torch.full((B, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    seqs = torch.empty(B, k, 0, dtype=torch.long, device=device)
    token = torch.full((B * k,), bos, dtype=torch.long, device=device)
    base = torch.arange(B, device=device)[:, None] * k
    pools: list[list[Hypothesis]] = [[] for _ in range(B)]  # finished, best first
    cuts: list[list[Hypothesis]] = [[] for _ in range(B)]  # truncated answers (loops, length limits)
    done = [False] * B
    limits = _row_limits(guard, B, max_len, device).tolist()
    for step in range(1, max_len + 1):
        logp = F.log_softmax(decoder.step(token, state).float(), dim=-1).view(B, k, -1)  # (B, k, V)
        V = logp.shape[-1]
        total = scores[..., None] + logp  # (B, k, V) sums; every live hypothesis has length `step`
        top_total, flat = total.view(B, -1).topk(min(2 * k, k * V), dim=-1)  # (B, 2k): room for k non-EOS
        top_beam, top_token = flat // V, flat % V
        keep_beam = torch.zeros(B, k, dtype=torch.long, device=device)
        keep_token = torch.full((B, k), eos, dtype=torch.long, device=device)
        keep_score = torch.full((B, k), float("-inf"), device=device)
        rows_total, rows_beam, rows_token = top_total.tolist(), top_beam.tolist(), top_token.tolist()
        for b in range(B):
            slot = 0
            for total_bj, beam_bj, token_bj in zip(rows_total[b], rows_beam[b], rows_token[b]):
                if total_bj == float("-inf") or slot == k:
                    break
                if token_bj == eos:
                    if not done[b]:
                        _add_finished(pools[b], seqs[b, beam_bj].tolist(), total_bj / step, k)
                    continue
                keep_beam[b, slot], keep_token[b, slot], keep_score[b, slot] = beam_bj, token_bj, total_bj
                slot += 1
            best_live = keep_score[b, 0].item() / step
            if len(pools[b]) == k and best_live <= pools[b][-1].score:
                done[b] = True
        seqs = torch.cat(
            [seqs.gather(1, keep_beam[..., None].expand(-1, -1, seqs.shape[2])), keep_token[..., None]], dim=2
        )
        scores = keep_score
        if guard is not None:
            _guard_beams(guard, seqs, scores, step, limits, done, cuts)
        state.reorder((base + keep_beam).flatten())
        token = keep_token.flatten()
        if all(done):
            break
    steps = seqs.shape[2]
    results = []
    for b in range(B):
        cut = [Hypothesis(seqs[b, j].tolist(), scores[b, j].item() / max(steps, 1), False) for j in range(k)]
        cut = [h for h in cut if h.score != float("-inf")] if not done[b] else []
        cut = sorted(cut + cuts[b], key=lambda h: h.score, reverse=True)
        results.append((pools[b] + _unique(cut))[:k])
    return results


def _guard_beams(
    guard: Guard,
    seqs: torch.Tensor,
    scores: torch.Tensor,
    step: int,
    limits: list[int],
    done: list[bool],
    cuts: list[list[Hypothesis]],
) -> None:
    """Move looping live hypotheses out of the beam (score -inf) into ``cuts``; end images at their limit."""
    B, k, _ = seqs.shape
    flat = seqs.view(B * k, -1)
    start, period = (x.view(B, k).tolist() for x in guard.loop(flat, step))
    for b in range(B):
        if done[b]:
            continue
        for j in range(k):
            score = scores[b, j].item()
            if score == float("-inf"):
                continue
            if start[b][j] >= 0:
                row = flat[b * k + j].tolist()
                keep = start[b][j] + period[b][j]
                cuts[b].append(Hypothesis(row[:keep], score / step, False))
                scores[b, j] = float("-inf")
            elif step >= limits[b]:
                cuts[b].append(Hypothesis(flat[b * k + j].tolist(), score / step, False))
        if step >= limits[b] or bool((scores[b] == float("-inf")).all()):
            done[b] = True


def _unique(hyps: list[Hypothesis]) -> list[Hypothesis]:
    seen, out = set(), []
    for h in hyps:
        if tuple(h.tokens) not in seen:
            seen.add(tuple(h.tokens))
            out.append(h)
    return out


def _add_finished(pool: list[Hypothesis], tokens: list[int], score: float, k: int) -> None:
    """Insert a finished hypothesis into ``pool`` (sorted, at most ``k``, no duplicates)."""
    if len(pool) == k and score <= pool[-1].score:
        return
    if any(h.tokens == tokens for h in pool):
        return
    pool.append(Hypothesis(tokens, score))
    pool.sort(key=lambda h: h.score, reverse=True)
    del pool[k:]
