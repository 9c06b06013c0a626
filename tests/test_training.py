"""Training and evaluation end to end on a tiny configuration (seconds on a CPU)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from texpaste.cli import main
from texpaste.data.build import RenderSettings, render_to_shards
from texpaste.training.evaluate import EvalSettings, evaluate, images_match
from texpaste.training.train import (
    TrainConfig,
    build,
    learning_rate,
    restore,
    schedule_step,
    train,
    update_average,
)

from .conftest import TINY_CONFIG

FORMULAS = [
    r"a+b",
    r"x^{2}",
    r"\frac{1}{2}",
    r"\alpha",
    r"y=mx+c",
    r"\sqrt{2}",
    r"e^{x}",
    r"a_{n}",
    r"\pi r^{2}",
    r"\sin x",
    r"x-y",
    r"\int f",
    r"2+2=4",
    r"\beta\gamma",
    r"n!",
    r"\log n",
]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    render_to_shards(
        FORMULAS, out, len(FORMULAS), RenderSettings(seed=1, dpi=(100, 120), max_size=(256, 64)), jobs=1
    )
    return out


def losses(run: Path) -> list[float]:
    with (run / "log.csv").open() as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def test_a_few_steps_lower_the_loss_and_resume(shards, tmp_path):
    run = tmp_path / "run"
    ema = {"ema_decay": 0.9}
    first = train(TINY_CONFIG, [shards], run, val_dir=shards, max_steps=30, overrides=ema)
    assert first["step"] == 30 and first["ema_updates"] == 30
    curve = losses(run)
    assert curve[-1] < 0.8 * curve[0], curve
    assert (run / "best" / "weights.pth").exists() and (run / "last.pt").exists()
    # resuming with a late decay (steps 32..40) keeps the checkpoint from before it, to go on from
    resumed = train(TINY_CONFIG, [shards], run, max_steps=35, overrides={**ema, "decay_steps": 8})
    assert resumed["step"] == 35 and resumed["samples"] > first["samples"] and resumed["ema_updates"] == 35
    assert torch.load(run / "stable.pt", weights_only=True)["step"] == 32

    # the latest weight average exports as a model directory (what is shipped and what the GPU
    # recipe continues from); it is not the raw weights
    ckpt = torch.load(run / "last.pt", weights_only=True)
    latest, raw = ckpt["ema"], ckpt["model"]
    assert not all(torch.equal(latest[k], raw[k]) for k in raw)
    assert (
        main(["train", "--config", str(TINY_CONFIG), "--out", str(run), "--export", str(tmp_path / "m")]) == 0
    )
    exported = torch.load(tmp_path / "m" / "weights.pth", weights_only=True)
    assert exported.keys() == latest.keys()
    assert all(torch.allclose(exported[k].float(), latest[k].float(), atol=1e-2, rtol=1e-2) for k in latest)
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"config.yaml", "weights.pth", "tokenizer.json"}


def test_export_without_a_checkpoint_says_so(tmp_path, capsys):
    assert (
        main(["train", "--config", str(TINY_CONFIG), "--out", str(tmp_path), "--export", str(tmp_path / "m")])
        == 1
    )
    assert "holds no last.pt checkpoint" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY_CONFIG), "--out", str(tmp_path)]) == 1
    assert "needs --data" in capsys.readouterr().err


def test_weight_average_moves_toward_the_model_with_a_ramped_decay():
    average, model = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(average.weight), torch.nn.init.ones_(model.weight)
    update_average(average, model, decay=0.99, updates=0)  # d = min(0.99, 1/10) = 0.1
    assert torch.allclose(average.weight, torch.full((1, 2), 0.9))
    update_average(average, model, decay=0.99, updates=10_000)  # d = 0.99
    assert torch.allclose(average.weight, torch.full((1, 2), 0.9 + 0.01 * 0.1))
    assert torch.equal(model.weight, torch.ones(1, 2))


def test_matrix_product_attention_computes_the_fused_kernels_result_in_both_parts_of_the_model():
    from texpaste.model.config import ModelConfig
    from texpaste.model.network import Pix2TexModel, use_fused_attention

    torch.manual_seed(0)
    model = Pix2TexModel(ModelConfig.from_yaml(TINY_CONFIG)).eval()
    images, tokens = torch.randn(2, 1, 64, 128), torch.randint(3, 100, (2, 9))
    fused = model(images, tokens)
    fused.square().mean().backward()
    fused_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    use_fused_attention(model, False)
    plain = model(images, tokens)
    assert not any(getattr(m, "fused_attn", False) or getattr(m, "fused", False) for m in model.modules())
    assert torch.allclose(fused, plain, atol=1e-5)  # causal self-attention, cross-attention and the ViT's
    plain.square().mean().backward()  # the in-place causal mask leaves autograd intact
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(fused_grads, model.parameters()))
    use_fused_attention(model, True)
    assert torch.equal(model(images, tokens), fused)


def test_bf16_training_on_a_cpu_switches_to_matrix_product_attention(shards, tmp_path, monkeypatch):
    import texpaste.training.train as training

    for native, fused in ((True, False), (False, True)):
        monkeypatch.setattr(training, "cpu_has_native_bf16", lambda native=native: native)
        run = build(TINY_CONFIG, [shards], tmp_path / str(native), overrides={"precision": "auto"})
        restore(run)
        assert run.bf16 is native
        assert all(m.fused is fused for m in run.model.modules() if hasattr(m, "fused"))
        assert all(m.fused_attn is fused for m in run.model.modules() if hasattr(m, "fused_attn"))


def test_the_loss_skips_padding_without_computing_its_logits():
    from texpaste.model.config import ModelConfig
    from texpaste.model.network import Pix2TexModel

    torch.manual_seed(0)
    model = Pix2TexModel(ModelConfig.from_yaml(TINY_CONFIG)).eval()
    images = torch.randn(3, 1, 64, 128)
    tokens = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 10, 2, 0]])
    targets = tokens[:, 1:]
    real = targets != 0
    kept = model(images, tokens[:, :-1], real)
    assert kept.shape == (int(real.sum()), 1175)
    full = model(images, tokens[:, :-1])  # (B, T, V)
    assert torch.allclose(kept, full[real], atol=1e-6)
    padded_loss = torch.nn.functional.cross_entropy(
        full.reshape(-1, 1175), targets.reshape(-1), ignore_index=0
    )
    assert torch.allclose(torch.nn.functional.cross_entropy(kept, targets[real]), padded_loss, atol=1e-6)


def test_schedule_warms_up_then_decays():
    tc = TrainConfig(lr=1e-3, min_lr=1e-5, warmup_steps=10, total_steps=110)
    assert learning_rate(0, tc) == pytest.approx(1e-4)
    assert learning_rate(9, tc) == pytest.approx(1e-3)
    assert learning_rate(60, tc) == pytest.approx((1e-3 + 1e-5) / 2)
    assert learning_rate(110, tc) == pytest.approx(1e-5)


def test_late_decay_holds_the_rate_then_decays_over_its_last_steps():
    tc = TrainConfig(lr=1e-3, min_lr=1e-5, warmup_steps=10, total_steps=110, decay_steps=40)
    assert learning_rate(9, tc) == learning_rate(70, tc) == pytest.approx(1e-3)
    assert learning_rate(90, tc) == pytest.approx((1e-3 + 1e-5) / 2)
    assert learning_rate(110, tc) == learning_rate(500, tc) == pytest.approx(1e-5)
    # a decay longer than the run starts right after warmup
    assert learning_rate(
        60, TrainConfig(lr=1e-3, min_lr=1e-5, warmup_steps=10, total_steps=110, decay_steps=999)
    ) == pytest.approx((1e-3 + 1e-5) / 2)


def test_a_time_budget_moves_the_schedule_on_when_steps_lag_behind():
    tc = TrainConfig(total_steps=1000, schedule_minutes=10)
    assert schedule_step(50, 60.0, tc) == 100  # a tenth of the time: a tenth of the steps
    assert schedule_step(300, 60.0, tc) == 300  # steps ahead of the clock count as they are
    assert schedule_step(50, 900.0, TrainConfig(total_steps=1000)) == 50  # no budget: steps alone


def test_a_run_with_a_time_budget_stops_when_its_schedule_has_ended(shards, tmp_path):
    # a 0.6 s budget for 10,000 steps: the schedule, and the run, end long before step 10,000
    budget = {"total_steps": 10_000, "schedule_minutes": 0.01, "warmup_steps": 2, "log_every": 1}
    result = train(TINY_CONFIG, [shards], tmp_path, overrides=budget)
    assert 2 < result["step"] < 10_000 and result["seconds"] >= 0.6
    with (tmp_path / "log.csv").open() as fh:
        rates = [float(r["lr"]) for r in csv.DictReader(fh)]
    tc = TrainConfig(**budget)
    assert max(rates) > 10 * tc.min_lr and rates[-1] == pytest.approx(tc.min_lr, rel=0.01)


def test_eval_reports_pix2tex_metrics_and_render_match(tiny_model_dir, tmp_path):
    formulas = tmp_path / "f.txt"
    formulas.write_text("\n".join(FORMULAS[:6]) + "\n")
    report = evaluate(tiny_model_dir, formulas, EvalSettings(n=6, threads=1), out=tmp_path / "r.json")
    m = report["metrics"]
    assert m["n"] == 6 and 0 <= m["bleu"] <= 1 and m["edit_distance"] >= 0 and 0 <= m["render_match"] <= 1
    assert json.loads((tmp_path / "r.json").read_text())["metrics"]["n"] == 6


def test_eval_can_score_the_best_of_a_beam_search_like_the_editors_paste(tiny_model_dir, tmp_path, capsys):
    formulas = tmp_path / "f.txt"
    formulas.write_text("\n".join(FORMULAS[:4]) + "\n")
    args = ["eval", str(tiny_model_dir), "--formulas", str(formulas), "--n", "4", "--threads", "1"]
    assert main([*args, "--candidates", "3", "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["settings"]["candidates"] == 3 and report["metrics"]["n"] == 4
    capsys.readouterr()
    assert main([*args, "--candidates", "0"]) == 2
    assert "candidates must be a whole number" in capsys.readouterr().err


def test_render_match_compares_ink_not_margins():
    from texpaste.data.tex import render_tex

    a, b, c = render_tex([r"\frac{a}{b}", r"{a \over b}", r"\frac{a}{c}"], dpi=120).images
    assert images_match(a, b) is True  # a plain bool: the report is JSON
    assert not images_match(a, c)


def test_a_mix_sets_each_styles_share_of_the_epoch():
    from texpaste.training.dataset import Example, epoch_order

    examples = [Example(b"", [1, 2], "x", "tex") for _ in range(90)] + [Example(b"", [1, 2], "x", "pdf")] * 10
    plain = epoch_order(examples, seed=1, epoch=0)
    assert sorted(plain) == list(range(100))
    mixed = epoch_order(examples, seed=1, epoch=0, mix={"tex": 0.5, "pdf": 0.5, "katex": 0.2})
    styles = [examples[i].style for i in mixed]
    assert len(mixed) == 100 and styles.count("pdf") == 50 and styles.count("tex") == 50  # katex: no pool
    assert set(mixed[:100]) >= set(range(90, 100))  # the small pool is cycled through, all of it
    assert mixed == epoch_order(examples, seed=1, epoch=0, mix={"tex": 0.5, "pdf": 0.5})
    assert mixed != epoch_order(examples, seed=1, epoch=1, mix={"tex": 0.5, "pdf": 0.5})


def test_shards_record_their_renderer_and_training_reads_it(shards):
    from texpaste.assets import PIX2TEX_TOKENIZER
    from texpaste.model.tokenizer import Tokenizer
    from texpaste.training.dataset import load_examples

    tok = Tokenizer(PIX2TEX_TOKENIZER, pad=0, bos=1, eos=2)
    assert {ex.style for ex in load_examples([shards], tok, 64)} == {"tex"}


@pytest.mark.web
@pytest.mark.tex
def test_eval_scores_screenshot_styles_one_by_one_and_their_mean(tiny_model_dir, tmp_path):
    from texpaste.training.evaluate import SCREENSHOT_STYLES, evaluate_styles

    formulas = tmp_path / "f.txt"
    formulas.write_text("\n".join(FORMULAS[:6]) + "\n")
    styles = {k: SCREENSHOT_STYLES[k] for k in ("katex-dark-2x", "pdf-txfonts-72dpi")}
    report = evaluate_styles(
        tiny_model_dir, formulas, EvalSettings(n=4, threads=1), styles, out=tmp_path / "r.json"
    )
    assert set(report["styles"]) == set(styles)
    for metrics in report["styles"].values():
        assert metrics["n"] == 4 and "render_match" not in metrics
    bleus = [m["bleu"] for m in report["styles"].values()]
    assert report["metrics"]["bleu"] == pytest.approx(sum(bleus) / 2)
    assert (
        main(["eval", str(tiny_model_dir), "--formulas", str(formulas), "--n", "2", "--styles", "nope"]) != 0
    )


def test_a_corrupt_image_in_a_shard_is_counted_and_skipped_not_the_end_of_the_epoch(shards):
    from texpaste.model.config import ModelConfig
    from texpaste.model.tokenizer import Tokenizer
    from texpaste.training.dataset import Example, bucketed_batches, load_examples, prefetch

    cfg = ModelConfig.from_yaml(TINY_CONFIG)
    tok = Tokenizer(TrainConfig().tokenizer_path, pad=cfg.pad_token, bos=cfg.bos_token, eos=cfg.eos_token)
    examples = load_examples([shards], tok, cfg.max_seq_len)
    good = examples[0]
    examples[len(examples) // 2 :] = [
        Example(good.png[: len(good.png) // 2], good.ids, good.latex)
    ] + examples[len(examples) // 2 :]  # a truncated PNG in the middle of the shard
    stats: dict[str, int] = {}
    batches = list(
        prefetch(
            bucketed_batches(
                examples,
                cfg,
                seed=1,
                epoch=0,
                pixel_budget=10**6,
                max_batch=4,
                augment_data=False,
                stats=stats,
            )
        )
    )
    assert stats["corrupt"] == 1
    assert batches[-1][2] == len(examples)  # the epoch ran to its end
    assert sum(b[0].shape[0] for b in batches) == len(examples) - 1 - stats["blank"]


def test_an_error_in_the_data_thread_reaches_the_training_loop():
    from texpaste.training.dataset import prefetch

    def broken():
        yield 1
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        list(prefetch(broken()))


def test_sigterm_stops_training_after_a_step_with_a_checkpoint(shards, tmp_path):
    """``kill PID`` (or Ctrl+C) of ``texpaste train`` keeps the steps done: the next run resumes there."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "texpaste", "train", "--config", str(TINY_CONFIG), "--data", str(shards)]
    proc = subprocess.Popen(
        [*cmd, "--out", str(run), "--max-steps", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TEXPASTE_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while not (run / "log.csv").exists() or len(losses(run)) < 2:  # a few logged steps
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    record = json.loads(out.splitlines()[-1])
    assert record["stopped"] is True and 0 < record["step"] < 100000
    assert torch.load(run / "last.pt", weights_only=True)["step"] == record["step"]
