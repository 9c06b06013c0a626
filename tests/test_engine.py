"""The Recognizer on a small random model: API shape, batching, errors per image, no side effects."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from texpaste.engine.recognizer import Recognition, Recognizer
from texpaste.errors import ImageError, NoFormulaError
from texpaste.model.generate import Hypothesis

from .conftest import draw_formula


def png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_recognize_returns_text_candidates_and_timings(tiny_recognizer):
    result = tiny_recognizer.recognize(draw_formula())
    assert isinstance(result, Recognition)
    assert result.latex == result.candidates[0].latex
    assert set(result.timings) >= {"preprocess", "encoder", "decoder", "total"}
    assert result.to_dict()["candidates"][0]["latex"] == result.latex


def test_greedy_is_deterministic_across_input_types(tiny_recognizer, tmp_path):
    img = draw_formula("a+b")
    path = tmp_path / "f.png"
    img.save(path)
    texts = {tiny_recognizer.recognize(x).latex for x in (img, png_bytes(img), path, str(path))}
    assert len(texts) == 1


def test_batch_equals_one_by_one_for_mixed_sizes(tiny_recognizer):
    images = [draw_formula("x", (60, 40)), draw_formula("x^2+y^2", (240, 70)), draw_formula("a", (120, 50))]
    batched = tiny_recognizer.recognize_many(images)
    alone = [tiny_recognizer.recognize(img) for img in images]
    assert [r.latex for r in batched] == [r.latex for r in alone]


def test_bad_image_in_a_batch_fails_alone(tiny_recognizer):
    blank = draw_formula("", (100, 40))
    results = tiny_recognizer.recognize_many([draw_formula(), b"not an image", blank, draw_formula("z")])
    assert isinstance(results[0], Recognition) and isinstance(results[3], Recognition)
    assert isinstance(results[1], ImageError) and "not an image" in str(results[1]).lower()
    assert isinstance(results[2], NoFormulaError)
    with pytest.raises(NoFormulaError):
        tiny_recognizer.recognize(blank)


def test_candidates_come_from_beam_search(tiny_recognizer):
    result = tiny_recognizer.recognize(draw_formula(), candidates=3)
    assert 1 <= len(result.candidates) <= 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len({c.latex for c in result.candidates}) == len(result.candidates)


def test_sampling_with_seed_is_reproducible(tiny_recognizer):
    a = tiny_recognizer.recognize(draw_formula(), temperature=0.7, seed=3)
    b = tiny_recognizer.recognize(draw_formula(), temperature=0.7, seed=3)
    assert a.latex == b.latex


def test_load_by_directory_and_env(tiny_model_dir, monkeypatch):
    rec = Recognizer.load(str(tiny_model_dir), threads=1)
    assert rec.cfg.dim == 64 and rec.device.type == "cpu"
    monkeypatch.setenv("TEXPASTE_MODEL", str(tiny_model_dir))
    assert Recognizer.load(threads=1).cfg.dim == 64


def test_import_has_no_side_effects(tmp_path):
    """Importing texpaste loads no torch, changes no directory, prints nothing."""
    code = (
        "import os, sys; cwd = os.getcwd(); import texpaste; "
        "assert 'torch' not in sys.modules, 'torch imported'; assert os.getcwd() == cwd; "
        "from texpaste import Recognizer; assert 'torch' in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_runaway_output_is_stopped_unless_the_guard_is_off(tiny_model_dir):
    guarded, free = (Recognizer.from_directory(tiny_model_dir, guard=g) for g in (True, False))
    _, x, _ = guarded.tokenizer.encode("x")  # BOS, x, EOS
    for rec in (guarded, free):
        with torch.no_grad():  # every step now answers "x": a loop
            rec.model.decoder.net.to_logits.bias[x] += 1e4
    image = draw_formula()
    assert free.recognize(image).latex == "x" * (free.cfg.max_seq_len - 1)
    for candidates in (1, 3):
        assert guarded.recognize(image, candidates=candidates).latex == "x"


def test_small_images_get_a_length_bound(tiny_recognizer):
    guard = tiny_recognizer._guard([(32, 32), (64, 256)])
    assert guard.max_lens.tolist() == [16 + 20, 16 + 20 * 16]


def test_an_answer_below_the_models_doubt_threshold_is_flagged(tiny_model_dir, tmp_path, formula_png):
    import shutil

    import yaml

    from texpaste.engine.recognizer import Recognizer

    assert Recognizer.load(tiny_model_dir, threads=1).recognize(formula_png).doubtful is None  # no threshold
    unsure = tmp_path / "unsure"
    shutil.copytree(tiny_model_dir, unsure)
    config = yaml.safe_load((unsure / "config.yaml").read_text())
    for threshold, doubtful in ((0.0, True), (-1e9, False)):
        (unsure / "config.yaml").write_text(yaml.safe_dump({**config, "doubt_threshold": threshold}))
        result = Recognizer.load(unsure, threads=1).recognize(formula_png)
        assert result.doubtful is doubtful and result.to_dict()["doubtful"] is doubtful


# -- multi-scale decoding ----------------------------------------------------------------------------


def with_heights(rec: Recognizer, *heights: float) -> Recognizer:
    """The same weights, decoding at ``heights`` (the first one also as the training height)."""
    cfg = dataclasses.replace(rec.cfg, glyph_height=heights[0], glyph_heights=list(heights))
    return Recognizer(rec.model, rec.tokenizer, cfg, device=rec.device, name=rec.name)


def test_one_input_array_per_glyph_height_and_no_duplicates(tiny_recognizer):
    img = draw_formula("x^2+y^2=z^2", (200, 40))
    small, large = with_heights(tiny_recognizer, 8, 16).preprocess_scales(img)
    assert large.shape[1] > small.shape[1]  # (its height is the 32 px minimum both times)
    assert len(with_heights(tiny_recognizer, 8, 8).preprocess_scales(img)) == 1
    assert np.array_equal(with_heights(tiny_recognizer, 8).preprocess_scales(img)[0], small)


def test_multi_scale_answer_is_the_best_scored_of_the_single_scales(tiny_recognizer):
    images = [
        draw_formula("x^2+y^2=z^2", (200, 40)),
        draw_formula("a+b", (90, 40)),
        draw_formula("k", (50, 30)),
    ]
    both = with_heights(tiny_recognizer, 8, 16).recognize_many(images)
    alone = [with_heights(tiny_recognizer, h).recognize_many(images) for h in (8, 16)]
    for i, result in enumerate(both):
        best = max((a[i] for a in alone), key=lambda r: r.candidates[0].score)
        assert (result.latex, result.candidates[0].score) == pytest.approx(
            (best.latex, best.candidates[0].score)
        )


def test_merging_scales_ranks_finished_answers_first_then_by_score():
    cut, low, high = Hypothesis([5], -0.01, finished=False), Hypothesis([6], -0.5), Hypothesis([7], -0.2)
    merged = Recognizer.merge_scales([0, 0, 1, 0], [[cut], [low], [Hypothesis([8], -1.0)], [high]], 2)
    assert merged[0] == [high, low, cut] and [h.tokens for h in merged[1]] == [[8]]


def test_candidates_pooled_over_scales_keep_the_requested_number(tiny_recognizer):
    result = with_heights(tiny_recognizer, 8, 12, 16).recognize(draw_formula(), candidates=2)
    assert 1 <= len(result.candidates) <= 2
    assert len({c.latex for c in result.candidates}) == len(result.candidates)
