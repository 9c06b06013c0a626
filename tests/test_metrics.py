"""texpaste.training.metrics: pix2tex eval.py semantics, with expected values worked out by hand."""

from __future__ import annotations

import math
import random
import time

import pytest

from texpaste.training.metrics import (
    EvalAccumulator,
    bleu_score,
    bpe_pieces,
    bpe_pieces_of_text,
    edit_distance,
    exact_match,
    normed_edit_distance,
    pix2tex_tokenizer,
    token2str,
    token_accuracy,
)


def toks(s: str) -> list[str]:
    return s.split()


# ---------------------------------------------------------------- BLEU (torchtext semantics)


def test_bleu_identical():
    assert bleu_score([toks("a b c d e")], [[toks("a b c d e")]]) == pytest.approx(1.0)


def test_bleu_one_substitution_at_the_end():
    # cand  a b c d e   vs  ref  a b c d x
    # 1-grams: a b c d e       -> 4 of 5 in ref (e is not)       p1 = 4/5
    # 2-grams: ab bc cd de     -> ab bc cd match                 p2 = 3/4
    # 3-grams: abc bcd cde     -> abc bcd match                  p3 = 2/3
    # 4-grams: abcd bcde       -> abcd matches                   p4 = 1/2
    # product = 4/5 * 3/4 * 2/3 * 1/2 = 1/5; c = r = 5 -> BP = 1
    # BLEU = (1/5) ** (1/4) = 0.668740...
    score = bleu_score([toks("a b c d e")], [[toks("a b c d x")]])
    assert score == pytest.approx(0.2**0.25)
    assert score == pytest.approx(0.668740, abs=1e-6)


def test_bleu_zero_when_no_4gram_matches():
    # cand a b c d e vs ref a b x d e: p1 = 4/5, p2 = 2/4 (ab, de), but no 3-gram or 4-gram
    # matches (abc/bcd/cde vs abx/bxd/xde) -> no smoothing -> 0.0
    assert bleu_score([toks("a b c d e")], [[toks("a b x d e")]]) == 0.0


def test_bleu_zero_for_short_candidates():
    # 3 tokens have no 4-gram at all: 0 clipped 4-grams -> 0.0 even for a perfect match
    assert bleu_score([toks("a b c")], [[toks("a b c")]]) == 0.0
    assert bleu_score([], []) == 0.0


def test_bleu_brevity_penalty():
    # cand a b c d vs ref a b c d e f: all precisions 1 (4/4, 3/3, 2/2, 1/1)
    # c = 4, r = 6 -> BP = exp(1 - 6/4) = exp(-0.5) = 0.606531
    score = bleu_score([toks("a b c d")], [[toks("a b c d e f")]])
    assert score == pytest.approx(math.exp(-0.5))
    assert score == pytest.approx(0.606531, abs=1e-6)


def test_bleu_no_penalty_for_long_candidates():
    # cand a b c d e vs ref a b c d (one inserted token at the end):
    # p1 = 4/5 (e unmatched), p2 = 3/4 (de), p3 = 2/3 (cde), p4 = 1/2 (abcd yes, bcde no)
    # product 1/5; c = 5 > r = 4 -> BP = exp(min(1 - 4/5, 0)) = 1; BLEU = 0.2 ** 0.25 = 0.668740
    assert bleu_score([toks("a b c d e")], [[toks("a b c d")]]) == pytest.approx(0.2**0.25)


def test_bleu_clipping():
    # max_n = 2, weights 1/2: cand a a a vs ref a a b
    # unigrams: cand a x3, ref a x2 -> clipped 2 -> p1 = 2/3
    # bigrams:  cand aa x2, ref aa x1 (and ab) -> clipped 1 -> p2 = 1/2
    # BLEU = sqrt(2/3 * 1/2) = sqrt(1/3) = 0.577350
    assert bleu_score([toks("a a a")], [[toks("a a b")]], max_n=2) == pytest.approx(math.sqrt(1 / 3))


def test_bleu_pools_counts_over_the_batch():
    # s1: a b c d vs itself: matches 4/4, 3/3, 2/2, 1/1
    # s2: a b c d e vs a b c d x: matches 4/5, 3/4, 2/3, 1/2
    # pooled: p1 = 8/9, p2 = 6/7, p3 = 4/5, p4 = 2/3 -> product 384/945; c = r = 9 -> BP 1
    # BLEU = (384/945) ** 0.25 = 0.798404, not the mean of the sentence scores (1 + 0.668740) / 2
    cands = [toks("a b c d"), toks("a b c d e")]
    refs = [[toks("a b c d")], [toks("a b c d x")]]
    assert bleu_score(cands, refs) == pytest.approx((384 / 945) ** 0.25)
    assert bleu_score(cands, refs) != pytest.approx((1 + 0.2**0.25) / 2)


def test_bleu_multiple_references_and_length_tie():
    # cand a b c d (4 tokens); refs of lengths 5 and 3 are equally close: torchtext takes the
    # first. Counts are clipped against the union (max) of the references: every n-gram of the
    # candidate is in "a b c d e", so all precisions are 1.
    # refs [5-long, 3-long]: r = 5 -> BP = exp(1 - 5/4) = exp(-0.25) = 0.778801
    # refs [3-long, 5-long]: r = 3 -> BP = 1
    cand = [toks("a b c d")]
    long_ref, short_ref = toks("a b c d e"), toks("a b c")
    assert bleu_score(cand, [[long_ref, short_ref]]) == pytest.approx(math.exp(-0.25))
    assert bleu_score(cand, [[short_ref, long_ref]]) == pytest.approx(1.0)


def test_bleu_rejects_bad_input():
    with pytest.raises(ValueError):
        bleu_score([toks("a")], [])
    with pytest.raises(ValueError):
        bleu_score([toks("a")], [[]])


# ---------------------------------------------------------------- pix2tex BPE pieces


@pytest.fixture(scope="module")
def tok():
    return pix2tex_tokenizer()


def test_bpe_pieces_of_a_label(tok):
    # docs/compatibility.md §4: "\frac { 1 } { 2 }" is "\ frac Ġ{ Ġ1 Ġ} Ġ{ Ġ2 Ġ}"
    ids = tok.encode(r"\frac { 1 } { 2 }").ids
    framed = [1, *ids, 2, 0, 0]  # BOS ... EOS PAD PAD
    assert bpe_pieces(framed, tok) == ["\\", "frac", "{", "1", "}", "{", "2", "}"]
    assert bpe_pieces_of_text(r"\frac { 1 } { 2 }", tok) == bpe_pieces(framed, tok)
    assert bpe_pieces_of_text(r"\frac{1}{2}", tok, normalize=True) == bpe_pieces(framed, tok)


def test_bpe_pieces_edge_ids(tok):
    g = tok.token_to_id("Ġ")
    x = tok.token_to_id("x")
    # a lone "Ġ" and an id outside the vocabulary (>= 1175) become '' and are kept; tokens after
    # EOS are kept as well (pix2tex does not cut at EOS)
    assert bpe_pieces([x, g, 5000, 2, x], tok) == ["x", "", "", "x"]


def test_token2str(tok):
    ids = [1, *tok.encode(r"\frac { 1 } { 2 }").ids, 2, 0]
    assert token2str(ids, tok) == r"\frac { 1 } { 2 }"


# ---------------------------------------------------------------- edit distance


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("flaw", "lawn", 2),  # -f, +n
        ("ab", "ba", 2),  # no transpositions in Levenshtein
        (r"\frac{1}{2}", r"\frac{1}{3}", 1),
        ("αβγ", "αγ", 1),  # code points, not bytes
        (["\\frac", "{", "1", "}"], ["\\frac", "1"], 2),  # token lists work too
    ],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def _dp(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_edit_distance_matches_plain_dp():
    rng = random.Random(1234)
    for _ in range(500):
        a = "".join(rng.choice("ab{}\\ ") for _ in range(rng.randint(0, 80)))
        b = "".join(rng.choice("abc{}\\") for _ in range(rng.randint(0, 80)))
        assert edit_distance(a, b) == _dp(a, b)


def test_edit_distance_is_fast():
    rng = random.Random(7)
    alphabet = "\\{}^_abcdefxyz0123 "
    a = "".join(rng.choice(alphabet) for _ in range(1000))
    b = "".join(rng.choice(alphabet) for _ in range(1000))
    start = time.perf_counter()
    edit_distance(a, b)
    assert time.perf_counter() - start < 0.05  # ~2 ms on one core; generous for shared CPUs


def test_normed_edit_distance():
    # both sides through post_process: "\frac{1}{2}" vs "\frac{1}{3}" -> 1 substitution / 11 chars
    assert normed_edit_distance(r"\frac { 1 } { 2 }", r"\frac{1}{3}") == pytest.approx(1 / 11)
    assert normed_edit_distance(r"\alpha x", r"\alpha  x") == 0.0  # "\alpha  x" -> "\alpha x"
    # normalised by the truth only: "xxxxxx" vs "x" -> 5 deletions / 1 char
    assert normed_edit_distance("xxxxxx", "x") == 5.0
    # empty (processed) truth: skipped
    assert normed_edit_distance("x", "   ") is None


# ---------------------------------------------------------------- token accuracy


def test_token_accuracy_batch_with_padding():
    # pred rows (no BOS), tgt rows (no BOS, with EOS), padded with 0 to length 4:
    #   pred 5 6 2 0 | tgt 5 6 7 2 -> counted 4 (tgt non-PAD), equal 2 (5, 6)
    #   pred 5 7 8 2 | tgt 5 7 2 0 -> counted 4 (pred non-PAD), equal 2 (5, 7)
    # accuracy = 4 / 8 = 0.5
    assert token_accuracy([[5, 6, 2], [5, 7, 8, 2]], [[5, 6, 7, 2], [5, 7, 2]]) == 0.5


def test_token_accuracy_ignores_common_padding():
    # positions where both are PAD are not counted: 2 of 2 -> 1.0
    assert token_accuracy([[5, 2, 0, 0]], [[5, 2, 0, 0, 0]]) == 1.0


def test_token_accuracy_counts_eos_and_tokens_after_it():
    # pred 5 2 9 | tgt 5 2 0: EOS counts like any token; the 9 sampled after EOS is wrong -> 2/3
    assert token_accuracy([[5, 2, 9]], [[5, 2]]) == pytest.approx(2 / 3)


def test_token_accuracy_is_position_wise():
    # one inserted token shifts everything: pred 5 9 6 7 2 | tgt 5 6 7 2 -> only position 0 equal
    assert token_accuracy([[5, 9, 6, 7, 2]], [[5, 6, 7, 2]]) == pytest.approx(1 / 5)


def test_token_accuracy_empty():
    assert math.isnan(token_accuracy([[]], [[]]))
    with pytest.raises(ValueError):
        token_accuracy([[1]], [])


# ---------------------------------------------------------------- exact match


@pytest.mark.parametrize(
    ("pred", "truth", "same"),
    [
        (r"$x^{2}$", r"x ^ 2", True),
        (r"\frac12", r"\frac { 1 } { 2 }", True),
        (r"\[\displaystyle a\,b\]", r"a b", True),
        (r"x_{\alpha}", r"x_\alpha", True),
        (r"x^{10}", r"x^10", False),
        (r"\left( x \right)", r"( x )", False),
        (r"\le", r"\leq", False),
    ],
)
def test_exact_match(pred, truth, same):
    assert exact_match(pred, truth) is same


# ---------------------------------------------------------------- accumulator


def test_accumulator_pix2tex_averaging(tok):
    acc = EvalAccumulator(tok)
    # batch 1: two perfect predictions of 4+ pieces -> BLEU 1, ED 0, exact 2/2
    t1 = [r"\frac { 1 } { 2 }", r"x ^ { 2 } + y ^ { 2 }"]
    ids1 = [[*tok.encode(t).ids, 2] for t in t1]  # without BOS, with EOS
    b1 = acc.add_batch(t1, t1, ids1, ids1)
    assert b1 == {"bleu": pytest.approx(1.0), "edit_distance": 0.0, "token_accuracy": 1.0, "exact_match": 1.0}
    # batch 2: one sample, prediction "a b" vs truth "a b c d": 2 pieces have no 4-gram -> BLEU 0;
    # post_process: "a b" vs "a b c d" -> 4 insertions (" c d") / 7 chars; no ids -> no token acc.
    b2 = acc.add_batch(["a b"], ["a b c d"])
    assert b2["bleu"] == 0.0
    assert b2["edit_distance"] == pytest.approx(4 / 7)
    assert b2["token_accuracy"] is None
    # batch 3: empty truth -> skipped for ED, counted for exact match ("" vs "x": no match)
    acc.add_batch(["x"], [""])
    s = acc.summary()
    assert s["bleu"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)  # mean over batches
    assert s["edit_distance"] == pytest.approx((0 + 0 + 4 / 7) / 3)  # mean over 3 scored samples
    assert s["token_accuracy"] == pytest.approx(1.0)  # only batch 1 had ids
    assert s["exact_match"] == pytest.approx(2 / 4)
    assert s["n"] == 4
    assert s["n_batches"] == 3


def test_accumulator_defaults_when_empty():
    s = EvalAccumulator().summary()
    assert (s["bleu"], s["edit_distance"], s["token_accuracy"], s["n"]) == (0.0, 1.0, 0.0, 0)


def test_the_doubt_threshold_separates_exact_from_wrong_answers():
    from texpaste.training.metrics import calibrate_doubt

    scores = [-0.05, -0.1, -0.2, -0.3, -0.9, -1.2, -0.15]
    exact = [True, True, True, False, False, False, False]
    d = calibrate_doubt(scores, exact)
    assert -0.3 < d["threshold"] < -0.2  # flags the three clearly low ones, not the exact ones
    assert d["precision"] == 1.0 and d["recall"] == 0.75 and d["n"] == 7
    assert abs(d["flagged"] - 3 / 7) < 1e-9
    # no separation at all: flag nothing rather than everything
    assert calibrate_doubt([-0.1, -0.1], [True, False])["flagged"] == 0.0
    with pytest.raises(ValueError):
        calibrate_doubt([-0.1], [])
