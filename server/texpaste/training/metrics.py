"""Formula-recognition metrics with pix2tex ``eval.py`` semantics (docs/compatibility.md §4), plus exact match.

- BLEU: torchtext's ``bleu_score`` over pix2tex's BPE pieces, computed per batch and averaged
  over batches (:func:`bleu_score`, :func:`bpe_pieces`).
- Normalised edit distance: character Levenshtein after :func:`texpaste.engine.postprocess.post_process`,
  divided by the processed truth's length, averaged over samples (:func:`normed_edit_distance`).
- Token accuracy: position-wise id equality over the positions where either side is not PAD,
  per batch, averaged over batches (:func:`token_accuracy`).
- Exact match (not in pix2tex): equality after :func:`texpaste.training.labels.normalize_for_match`.

No torch and no Levenshtein package: edit distance is a bit-parallel DP on Python integers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from texpaste.assets import PIX2TEX_TOKENIZER
from texpaste.engine.postprocess import post_process
from texpaste.training.labels import normalize_for_match, normalize_latex

__all__ = [
    "PAD",
    "BOS",
    "EOS",
    "bleu_score",
    "bpe_pieces",
    "bpe_pieces_of_text",
    "token2str",
    "pix2tex_tokenizer",
    "edit_distance",
    "normed_edit_distance",
    "token_accuracy",
    "exact_match",
    "EvalAccumulator",
]

PAD, BOS, EOS = 0, 1, 2
_SPECIAL_PIECES = ("[BOS]", "[EOS]", "[PAD]")
_TOKENIZER_JSON = PIX2TEX_TOKENIZER


# --------------------------------------------------------------------------------------------
# BLEU (torchtext.data.metrics.bleu_score semantics)
# --------------------------------------------------------------------------------------------


def _ngrams(tokens: Sequence[str], max_n: int) -> Counter:
    counts: Counter = Counter()
    for n in range(1, max_n + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i : i + n])] += 1
    return counts


def bleu_score(
    candidates: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    max_n: int = 4,
    weights: Sequence[float] | None = None,
) -> float:
    """Corpus BLEU exactly as ``torchtext.data.metrics.bleu_score``.

    ``candidates[k]`` is a token list, ``references[k]`` a list of reference token lists for it.

    - For each order n = 1..max_n, clipped n-gram matches and candidate n-gram totals are pooled
      over all candidates: clipping is against the element-wise maximum of the references' counts,
      and a candidate of T tokens contributes ``max(T - n + 1, 0)`` to the total of order n.
    - If any order has zero clipped matches, the score is 0.0 (no smoothing); an empty corpus
      scores 0.0 too.
    - Otherwise score = exp(sum_n w_n * log p_n) * BP with weights ``w_n = 1/max_n`` by default,
      BP = ``exp(min(1 - r/c, 0))``, c = total candidate length, r = sum over candidates of the
      reference length closest to the candidate's (the first such reference on a tie).

    torchtext computes the precisions in float32; this computes in float64, so the two agree to
    about 1e-6.
    """
    if len(candidates) != len(references):
        raise ValueError("candidates and references must have the same length")
    if weights is None:
        weights = [1.0 / max_n] * max_n
    if len(weights) != max_n:
        raise ValueError("weights must have max_n entries")
    clipped = [0] * max_n
    totals = [0] * max_n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        if not refs:
            raise ValueError("every candidate needs at least one reference")
        t = len(cand)
        cand_len += t
        ref_len += min((len(r) for r in refs), key=lambda length: abs(t - length))
        ref_counts = _ngrams(refs[0], max_n)
        for r in refs[1:]:
            ref_counts |= _ngrams(r, max_n)
        for gram, count in (_ngrams(cand, max_n) & ref_counts).items():
            clipped[len(gram) - 1] += count
        for i in range(max_n):
            totals[i] += max(t - i, 0)
    if min(clipped) == 0:
        return 0.0
    log_score = sum(w * math.log(c / tot) for w, c, tot in zip(weights, clipped, totals, strict=True))
    brevity = math.exp(min(1.0 - ref_len / cand_len, 0.0))
    return brevity * math.exp(log_score)


# --------------------------------------------------------------------------------------------
# pix2tex's BPE pieces
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def pix2tex_tokenizer(path: str | Path | None = None):
    """pix2tex's ``tokenizers.Tokenizer`` (the bundled ``assets/pix2tex/tokenizer.json`` by default), cached."""
    return _load_tokenizer(str(path or _TOKENIZER_JSON))


def _resolve(tokenizer: Any):
    if tokenizer is None or isinstance(tokenizer, (str, Path)):
        return pix2tex_tokenizer(tokenizer)
    return tokenizer


def bpe_pieces(ids: Sequence[int], tokenizer: Any = None) -> list[str]:
    """pix2tex's ``detokenize`` for one sequence: the token strings BLEU is computed on.

    Each id -> ``tokenizer.id_to_token(id)`` (``None``, e.g. for ids >= 1175, -> ``''``), ``Ġ`` ->
    space, stripped; pieces equal to ``[BOS]``, ``[EOS]`` or ``[PAD]`` are removed. Empty pieces
    (a lone ``Ġ``, an unknown id) are kept, and nothing stops at EOS: pix2tex scores the ids
    sampled after EOS too. ``tokenizer`` is a ``tokenizers.Tokenizer``, a path to a tokenizer.json,
    or ``None`` for pix2tex's bundled one.
    """
    tok = _resolve(tokenizer)
    pieces = []
    for i in ids:
        piece = tok.id_to_token(int(i)) if i >= 0 else None
        piece = (piece or "").replace("Ġ", " ").strip()
        if piece not in _SPECIAL_PIECES:
            pieces.append(piece)
    return pieces


def bpe_pieces_of_text(latex: str, tokenizer: Any = None, *, normalize: bool = False) -> list[str]:
    """:func:`bpe_pieces` of ``latex`` encoded with pix2tex's tokenizer (no BOS/EOS).

    Lets any model's text be scored like pix2tex's ids. pix2tex's labels are space-separated
    tokens (``\\frac { 1 } { 2 }``); with ``normalize=True`` the text is first passed through
    :func:`texpaste.training.labels.normalize_latex` to get that form. Characters outside the vocabulary
    (notably ``%``) are silently dropped by the tokenizer.
    """
    tok = _resolve(tokenizer)
    if normalize:
        latex = normalize_latex(latex)
    return bpe_pieces(tok.encode(latex).ids, tok)


def token2str(ids: Sequence[int], tokenizer: Any = None) -> str:
    """pix2tex's ``token2str`` for one sequence: pieces concatenated, ``Ġ`` -> space, special
    strings removed, stripped. Like pix2tex it does not stop at EOS and does not map byte-level
    characters back to bytes (use ``texpaste.model.tokenizer.Tokenizer.decode`` for user output)."""
    tok = _resolve(tokenizer)
    s = "".join(tok.id_to_token(int(i)) or "" for i in ids if i >= 0).replace("Ġ", " ")
    for special in _SPECIAL_PIECES:
        s = s.replace(special, "")
    return s.strip()


# --------------------------------------------------------------------------------------------
# Edit distance
# --------------------------------------------------------------------------------------------


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance (unit insert/delete/substitute) between two strings or token lists.

    Bit-parallel DP (Myers 1999, in Hyyrö's formulation for the global distance): one column of
    the DP table is held as two bit vectors in Python ints, so each element of the shorter
    sequence costs a dozen big-int operations; two 1000-character strings take about a millisecond.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if not b:
        return m
    match_bits: dict[Hashable, int] = {}
    for i, x in enumerate(a):
        match_bits[x] = match_bits.get(x, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, score = mask, 0, m  # vertical +1 / -1 deltas of the column; score = D[m][j]
    for y in b:
        eq = match_bits.get(y, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & mask  # row 0 of the table grows by one per column
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def normed_edit_distance(pred: str, truth: str) -> float | None:
    """pix2tex's per-sample ED: ``edit_distance(post_process(pred), t) / len(t)`` with
    ``t = post_process(truth)``; ``None`` when ``t`` is empty (pix2tex skips such samples).
    Both strings are stripped first, as pix2tex's ``token2str`` output already is.
    Not bounded by 1: a long wrong prediction can exceed it."""
    t = post_process(truth.strip())
    if not t:
        return None
    return edit_distance(post_process(pred.strip()), t) / len(t)


# --------------------------------------------------------------------------------------------
# Token accuracy and exact match
# --------------------------------------------------------------------------------------------


def token_accuracy(
    pred_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], pad: int = PAD
) -> float:
    """pix2tex's token accuracy for one batch.

    ``pred_ids[k]``: the generated ids without BOS (EOS and anything sampled after it included);
    ``tgt_ids[k]``: the target ids without BOS, with EOS (trailing PADs allowed). Both sides are
    right-padded with ``pad`` to a common length; the accuracy is the share of equal ids over the
    positions where at least one side is not ``pad``. Position-wise, so one inserted token makes
    every later position wrong. ``nan`` when no position counts (pix2tex: mean of an empty tensor).
    """
    if len(pred_ids) != len(tgt_ids):
        raise ValueError("pred_ids and tgt_ids must have the same number of rows")
    equal = counted = 0
    for pred, tgt in zip(pred_ids, tgt_ids, strict=True):
        for j in range(max(len(pred), len(tgt))):
            p = pred[j] if j < len(pred) else pad
            t = tgt[j] if j < len(tgt) else pad
            if p == pad and t == pad:
                continue
            counted += 1
            equal += p == t
    return equal / counted if counted else math.nan


def exact_match(pred: str, truth: str) -> bool:
    """True when both have the same :func:`texpaste.training.labels.normalize_for_match` form."""
    return normalize_for_match(pred) == normalize_for_match(truth)


# --------------------------------------------------------------------------------------------
# Aggregation over a data set
# --------------------------------------------------------------------------------------------


class EvalAccumulator:
    """Accumulates the metrics over batches the way pix2tex's ``eval.py`` does.

    - ``bleu``: :func:`bleu_score` of each batch (one reference per sample), then the mean over
      batches; so it depends on how samples are batched (pix2tex: batches of 10 same-size images).
    - ``edit_distance``: :func:`normed_edit_distance` per sample, mean over all samples whose
      processed truth is non-empty.
    - ``token_accuracy``: :func:`token_accuracy` per batch, mean over the batches that gave ids
      (and had at least one counted position).
    - ``exact_match``: share of samples where :func:`exact_match` holds.

    With nothing accumulated the summary gives pix2tex's defaults (BLEU 0, ED 1, token accuracy
    0); ``token_accuracy`` is ``None`` when batches were added but none came with both id lists.

    ``tokenizer``: pix2tex's by default (see :func:`bpe_pieces`). ``normalize_text``: when BLEU
    pieces must be made from text (no ids given), first put it in the space-separated label form
    with :func:`texpaste.training.labels.normalize_latex`.
    """

    def __init__(self, tokenizer: Any = None, *, normalize_text: bool = False):
        self.tokenizer = _resolve(tokenizer)
        self.normalize_text = normalize_text
        self.bleus: list[float] = []
        self.edit_distances: list[float] = []
        self.token_accuracies: list[float] = []
        self.exact: list[bool] = []

    def _pieces(self, texts: Sequence[str], ids: Sequence[Sequence[int]] | None) -> list[list[str]]:
        if ids is not None:
            return [bpe_pieces(x, self.tokenizer) for x in ids]
        return [bpe_pieces_of_text(t, self.tokenizer, normalize=self.normalize_text) for t in texts]

    def add_batch(
        self,
        preds: Sequence[str],
        truths: Sequence[str],
        pred_ids: Sequence[Sequence[int]] | None = None,
        truth_ids: Sequence[Sequence[int]] | None = None,
    ) -> dict[str, float | None]:
        """Add one batch and return its own metrics.

        ``preds``/``truths``: LaTeX strings (for pix2tex parity, ``token2str`` of the ids, which
        includes tokens sampled after EOS). ``pred_ids``: generated ids without BOS;
        ``truth_ids``: target ids without BOS, with EOS. BLEU uses the ids when given, else the
        texts encoded with the tokenizer; token accuracy needs both id lists.
        """
        if len(preds) != len(truths):
            raise ValueError("preds and truths must have the same length")
        for name, ids in (("pred_ids", pred_ids), ("truth_ids", truth_ids)):
            if ids is not None and len(ids) != len(preds):
                raise ValueError(f"{name} must have one row per prediction")
        if not preds:
            return {"bleu": None, "edit_distance": None, "token_accuracy": None, "exact_match": None}
        cand = self._pieces(preds, pred_ids)
        refs = [[r] for r in self._pieces(truths, truth_ids)]
        bleu = bleu_score(cand, refs)
        self.bleus.append(bleu)
        eds = [d for d in map(normed_edit_distance, preds, truths) if d is not None]
        self.edit_distances.extend(eds)
        acc = None
        if pred_ids is not None and truth_ids is not None:
            acc = token_accuracy(pred_ids, truth_ids)
            if math.isnan(acc):
                acc = None
            else:
                self.token_accuracies.append(acc)
        matches = [exact_match(p, t) for p, t in zip(preds, truths, strict=True)]
        self.exact.extend(matches)
        return {
            "bleu": bleu,
            "edit_distance": sum(eds) / len(eds) if eds else None,
            "token_accuracy": acc,
            "exact_match": sum(matches) / len(matches),
        }

    def summary(self) -> dict[str, float | int | None]:
        """``bleu``, ``edit_distance``, ``token_accuracy``, ``exact_match`` (rate), ``n`` (samples)
        and ``n_batches``."""

        def mean(xs, default):
            return sum(xs) / len(xs) if xs else default

        return {
            "bleu": mean(self.bleus, 0.0),
            "edit_distance": mean(self.edit_distances, 1.0),
            "token_accuracy": mean(self.token_accuracies, 0.0 if not self.bleus else None),
            "exact_match": mean(self.exact, 0.0),
            "n": len(self.exact),
            "n_batches": len(self.bleus),
        }


# ---------------------------------------------------------------------------------------------------
# Doubtful results: the score below which an answer is more likely wrong than right


def calibrate_doubt(scores: Sequence[float], exact: Sequence[bool]) -> dict[str, float | int]:
    """The threshold on a prediction's score (mean log-probability per token) that best separates exact
    from wrong answers, and how well flagging ``score < threshold`` as doubtful finds the wrong ones.

    "Best" is Youden's J (recall of wrong answers + recall of exact ones - 1): it does not reward
    flagging everything when most answers are wrong. Ties go to the lower threshold (fewer flags)."""
    if len(scores) != len(exact) or not scores:
        raise ValueError("calibration needs one exact/wrong flag per score")
    pairs = sorted(zip(scores, exact, strict=True))
    wrong_total = sum(not e for _, e in pairs)
    right_total = len(pairs) - wrong_total
    best = (0.0, pairs[0][0])  # no separation at all: flag nothing
    flagged_wrong = flagged_right = 0
    for i, (score, ok) in enumerate(pairs):  # threshold just above pairs[i]: flag 0..i
        flagged_wrong += not ok
        flagged_right += ok
        if i + 1 < len(pairs) and pairs[i + 1][0] == score:
            continue
        j = flagged_wrong / max(wrong_total, 1) - flagged_right / max(right_total, 1)
        if j > best[0] + 1e-12:
            nxt = pairs[i + 1][0] if i + 1 < len(pairs) else score + 1e-3
            best = (j, (score + nxt) / 2)
    threshold = best[1]
    flagged = [s < threshold for s, _ in pairs]
    tp = sum(f and not e for f, (_, e) in zip(flagged, pairs, strict=True))
    n_flagged = sum(flagged)
    return {
        "threshold": round(threshold, 4),
        "precision": tp / n_flagged if n_flagged else 0.0,  # flagged answers that are wrong
        "recall": tp / wrong_total if wrong_total else 0.0,  # wrong answers that are flagged
        "flagged": n_flagged / len(pairs),
        "n": len(pairs),
    }
