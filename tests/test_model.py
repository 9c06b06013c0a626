"""The network: exact checkpoint layout, cached decoding == full forward, decoding strategies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from texpaste.assets import PIX2TEX_CONFIG, PIX2TEX_TOKENIZER
from texpaste.errors import ModelError
from texpaste.model.checkpoint import load_into, read_state_dict
from texpaste.model.config import ModelConfig
from texpaste.model.generate import Guard, beam_search, find_loop, sample, top_k_filter
from texpaste.model.network import Pix2TexModel
from texpaste.model.resizer import build_resizer

DATA = Path(__file__).parent / "data"
OFFICIAL = PIX2TEX_CONFIG


def manifest(name: str) -> dict[str, tuple[int, ...]]:
    rows = (line.split() for line in (DATA / name).read_text().splitlines() if not line.startswith("#"))
    return {key: tuple(int(n) for n in shape.split("x")) for key, shape in rows}


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def official_cfg() -> ModelConfig:
    return ModelConfig.from_yaml(OFFICIAL)


def test_weights_layout_matches_the_official_checkpoint(official_cfg):
    model = Pix2TexModel(official_cfg)
    assert shapes(model) == manifest("pix2tex_weights_keys.txt")
    sd = model.state_dict()
    # numbers from the specification, independent of our manifest file
    assert len(sd) == 260 and sum(v.numel() for v in sd.values()) == 25_498_880
    enc = [v.numel() for k, v in sd.items() if k.startswith("encoder.")]
    assert (len(enc), sum(enc)) == (174, 12_855_232)
    assert not list(model.buffers())


def test_resizer_layout_matches_the_official_checkpoint(official_cfg):
    resizer = build_resizer(official_cfg)
    assert shapes(resizer) == manifest("pix2tex_resizer_keys.txt")
    assert sum(v.numel() for v in resizer.state_dict().values()) == 4_852_949


def test_encoder_keeps_every_token_with_pix2tex_positions(official_cfg):
    model = Pix2TexModel(official_cfg).eval()
    with torch.inference_mode():
        out = model.encoder(torch.randn(2, 1, 64, 256))
    assert out.shape == (2, 1 + 4 * 16, 256)
    ids = model.encoder.position_ids(64, 96, torch.device("cpu"))
    assert ids.tolist() == [0, *[i * 42 + j + 1 for i in range(4) for j in range(6)]]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone_layers=[1, 1, 1],
        backbone_channels=[128, 128, 128, 128],
        backbone_stem_chs=32,
        dim=64,
        encoder_depth=1,
        num_layers=2,
        heads=2,
        dim_head=16,
        num_tokens=50,
        max_seq_len=40,
        max_width=256,
        max_height=64,
    )
    model = Pix2TexModel(cfg).eval()
    with torch.no_grad():  # sharpen the random logits so greedy paths are well separated
        model.decoder.net.to_logits.weight.mul_(8)
    return model


def test_cached_step_matches_full_forward(tiny):
    ctx = tiny.encoder(torch.randn(2, 1, 64, 128))
    tokens = torch.randint(3, 50, (2, 12))
    with torch.inference_mode():
        full = tiny.decoder(tokens, ctx)  # (B, T, V)
        state = tiny.decoder.start(ctx, 20)
        steps = torch.stack([tiny.decoder.step(tokens[:, t], state) for t in range(12)], dim=1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)


def test_greedy_is_deterministic_and_equals_one_beam(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(3, 1, 64, 128))
    a = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=30)
    b = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=30)
    beams = beam_search(tiny.decoder, ctx, bos=1, eos=2, max_len=30, beams=1)
    assert [h.tokens for h in a] == [h.tokens for h in b] == [bs[0].tokens for bs in beams]
    assert all(2 not in h.tokens for h in a)


def test_beam_search_returns_ranked_distinct_candidates(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(2, 1, 64, 128))
    results = beam_search(tiny.decoder, ctx, bos=1, eos=2, max_len=25, beams=4)
    for hyps in results:
        assert len(hyps) == 4
        ranks = [(h.finished, h.score) for h in hyps]
        assert ranks == sorted(ranks, reverse=True)  # finished first, then by mean log-prob
        assert len({tuple(h.tokens) for h in hyps}) == 4
        assert all(h.score <= 0 for h in hyps)
    greedy = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=25)
    for res, g in zip(results, greedy):  # beam never worse than greedy among answers of its kind
        same_kind = [h for h in res if h.finished == g.finished]
        assert not same_kind or same_kind[0].score >= g.score - 1e-5 or (res[0].finished and not g.finished)


def test_beam_search_stops_early_and_prefers_finished_answers(tiny):
    """Once its pool holds the k best finished answers, an image stops (no decoding to the limit)."""
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(1, 1, 64, 128))
    calls = 0
    step = tiny.decoder.step

    def counting(token, state):
        nonlocal calls
        calls += 1
        logits = step(token, state)
        logits[:, 2] += 8.0  # make EOS likely from the start: every beam finishes soon
        return logits

    tiny.decoder.step = counting
    try:
        [hyps] = beam_search(tiny.decoder, ctx, bos=1, eos=2, max_len=60, beams=3)
    finally:
        del tiny.decoder.step
    assert calls < 10 and all(h.finished for h in hyps) and len(hyps) == 3


def test_padded_batch_with_context_mask_equals_single_images(tiny):
    small, large = torch.randn(1, 1, 32, 64), torch.randn(1, 1, 64, 128)
    with torch.inference_mode():
        c_small, c_large = tiny.encoder(small), tiny.encoder(large)
        ctx = torch.zeros(2, c_large.shape[1], 64)
        ctx[0, : c_small.shape[1]], ctx[1] = c_small[0], c_large[0]
        mask = torch.arange(ctx.shape[1])[None] < torch.tensor([[c_small.shape[1]], [c_large.shape[1]]])
        batched = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=20, context_mask=mask, ignore_eos=True)
        alone = [
            sample(tiny.decoder, c, bos=1, eos=2, max_len=20, ignore_eos=True)[0] for c in (c_small, c_large)
        ]
    assert [h.tokens for h in batched] == [h.tokens for h in alone]


def test_sampling_is_seeded_and_top_k_keeps_k():
    logits = torch.arange(100.0)[None]
    kept = top_k_filter(logits, thres=0.9)
    # pix2tex's k = int((1 - 0.9) * V): float rounding gives 9 of 100 here, and 799 of 8000 for the real model
    assert torch.isfinite(kept).sum() == 9 and kept[0, -1] == 99
    assert torch.isfinite(top_k_filter(torch.randn(1, 8000))).sum() == 799


def test_sampling_with_a_seed_repeats(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(1, 1, 64, 128))
    runs = [
        sample(
            tiny.decoder,
            ctx,
            bos=1,
            eos=2,
            max_len=20,
            temperature=1.0,
            generator=torch.Generator().manual_seed(5),
        )[0].tokens
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_strict_loading_names_the_problem(tmp_path, official_cfg):
    tiny_cfg = ModelConfig(num_tokens=100, num_layers=1)
    model = Pix2TexModel(tiny_cfg)
    state = model.state_dict()
    state.pop("decoder.net.norm.bias")
    state["decoder.extra.weight"] = torch.zeros(1)
    with pytest.raises(ModelError, match=r"1 missing keys \(decoder.net.norm.bias\); 1 unexpected keys"):
        load_into(Pix2TexModel(tiny_cfg), state, "w.pth")


def test_weights_only_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    with pytest.raises(ModelError, match="not a valid PyTorch state dict") as info:
        read_state_dict(path)
    message = str(info.value)
    assert "\n" not in message
    assert "\x1b" not in message
    assert "weights_only=False" not in message and "WeightsUnpickler" not in message  # not torch's advice
    assert message.count(". ") == 0 and message.endswith(".")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ModelError):
        read_state_dict(tmp_path / "text.pth")


def test_a_yaml_config_with_a_python_tag_is_one_line(tmp_path):
    from texpaste.model.config import ModelConfig

    path = tmp_path / "config.yaml"
    path.write_text("dim: 64\nheads: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ModelError) as info:
        ModelConfig.from_yaml(path)
    assert "\n" not in str(info.value) and "line 2" in str(info.value)


def test_vocab_limit_only_picks_spellable_ids(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(2, 1, 64, 128))
        limited = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=15, ignore_eos=True, vocab=20)
        state = tiny.decoder.start(ctx, 5, vocab=20)
        assert tiny.decoder.step(torch.ones(2, dtype=torch.long), state).shape == (2, 20)
    assert all(t < 20 for h in limited for t in h.tokens)


# ---------------------------------------------------------------- runaway guard


def test_find_loop_catches_short_patterns_and_keeps_their_first_pass():
    assert find_loop([5] * 40) == 1
    assert find_loop([9, 8] + [1, 2] * 20) == 4
    assert find_loop([7] + [1, 2, 3, 4, 5, 6, 7, 8] * 5) == 9
    assert find_loop([5] * 31) is None  # one token 31 times is not yet a loop
    assert find_loop(list(range(60))) is None


def test_no_real_label_looks_like_a_loop():
    from texpaste.model.tokenizer import Tokenizer
    from texpaste.training.labels import training_label

    tok = Tokenizer(PIX2TEX_TOKENIZER, pad=0, bos=1, eos=2)
    formulas = (DATA / "regression_formulas.txt").read_text().splitlines()
    formulas += [
        r"\left( \begin{array}{cccccccc} 0 & 0 & 0 & 0 & 0 & 0 & 0 & 0 \end{array} \right)",
        r"C=xx^*xx^* xx^*xx^*",
        r"\}\}\}\}\}\}\}\}\}\}\}\}",
    ]
    for latex in formulas:
        assert find_loop(tok.encode(training_label(latex))) is None, latex


@pytest.fixture
def looping(tiny):
    """The tiny model with its logits pushed towards token 7: greedy decoding repeats it forever."""
    bias = tiny.decoder.net.to_logits.bias
    saved = bias.detach().clone()
    with torch.no_grad():
        bias[7] += 1e4
    yield tiny
    with torch.no_grad():
        bias.copy_(saved)


def test_greedy_and_sampling_stop_a_loop(looping):
    with torch.inference_mode():
        ctx = looping.encoder(torch.randn(2, 1, 64, 128))
        free = sample(looping.decoder, ctx, bos=1, eos=2, max_len=39)
        guarded = sample(looping.decoder, ctx, bos=1, eos=2, max_len=39, guard=Guard())
        sampled = sample(looping.decoder, ctx, bos=1, eos=2, max_len=39, temperature=0.5, guard=Guard())
    assert [len(h.tokens) for h in free] == [39, 39]
    for h in guarded + sampled:
        assert h.tokens == [7] and not h.finished


def test_beam_search_stops_loops_and_still_returns_candidates(looping):
    with torch.inference_mode():
        ctx = looping.encoder(torch.randn(2, 1, 64, 128))
        # a rule scaled to the tiny model's 40 tokens, so beams that leave the loop once are caught too
        results = beam_search(
            looping.decoder, ctx, bos=1, eos=2, max_len=39, beams=3, guard=Guard(min_span=8)
        )
    for hyps in results:
        assert len(hyps) == 3 and all(len(h.tokens) < 16 for h in hyps)  # nothing ran to the limit
        assert [7] in [h.tokens for h in hyps]  # the loop, cut to its first pass
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        cut = [h.finished for h in hyps].index(False)
        assert all(not h.finished for h in hyps[cut:])  # cut answers rank after finished ones


def test_the_length_bound_cuts_each_row_at_its_own_limit(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(2, 1, 64, 128))
        guard = Guard(max_lens=torch.tensor([3, 39]))
        free = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=39, ignore_eos=True)
        greedy = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=39, guard=guard)
        beams = beam_search(tiny.decoder, ctx, bos=1, eos=2, max_len=39, beams=2, guard=guard)
    assert len(greedy[0].tokens) <= 3 and greedy[0].tokens == free[0].tokens[: len(greedy[0].tokens)]
    assert all(len(h.tokens) <= 3 for h in beams[0])
    assert max(len(h.tokens) for h in beams[1]) > 3 or all(h.finished for h in beams[1])


def test_without_a_guard_decoding_is_unchanged(tiny):
    with torch.inference_mode():
        ctx = tiny.encoder(torch.randn(3, 1, 64, 128))
        a = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=30)
        b = sample(tiny.decoder, ctx, bos=1, eos=2, max_len=30, guard=Guard())
    for x, y in zip(a, b):  # random weights rarely loop in 30 tokens; where they do not, nothing changes
        if find_loop(x.tokens) is None:
            assert x == y
