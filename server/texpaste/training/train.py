"""``texpaste train``: the training loop for texpaste's own models (CPU or CUDA).

Resumable (``last.pt`` holds model, optimiser, weight average, schedule position and data
position), warmup then cosine decay (over the whole run, or over its last ``decay_steps`` with the
pre-decay checkpoint kept as ``stable.pt``), gradient clipping, bucketed batches, an exponential moving
average of the weights, periodic validation with pix2tex's metrics, the best model kept as a
ready-to-use model directory, a CSV log.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from texpaste.assets import PIX2TEX_TOKENIZER
from texpaste.engine.recognizer import pick_device
from texpaste.errors import ModelError
from texpaste.model.checkpoint import load_into, read_state_dict, save_state_dict
from texpaste.model.config import ModelConfig
from texpaste.model.network import Pix2TexModel, use_fused_attention
from texpaste.model.tokenizer import Tokenizer
from texpaste.training.dataset import bucketed_batches, load_examples, prefetch
from texpaste.training.validate import validate
from texpaste.typed import structure

log = logging.getLogger(__name__)

METRIC_COLUMNS = ("bleu", "edit_distance", "token_accuracy", "exact_match")


@dataclass
class TrainConfig:
    """Training settings, read from the ``train:`` section of the config file."""

    lr: float = 5e-4
    min_lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_steps: int = 500
    total_steps: int = 200_000
    decay_steps: int = 0  # > 0: hold lr, decay over the last decay_steps only (warmup-stable-decay)
    schedule_minutes: float = 0.0  # > 0: the schedule also runs on training time and ends after this long
    pixel_budget: int = 24 * 64 * 320
    max_batch: int = 64
    clip: float = 1.0
    ema_decay: float = 0.0  # > 0: validate, keep and export an EMA of the weights (0.999 ~ last 1,000 steps)
    seed: int = 42
    checkpoint_minutes: float = 5.0
    val_every: int = 1000
    log_every: int = 50
    val_samples: int = 200
    threads: int = 0  # torch CPU threads; 0 = all cores
    data_workers: int = 0  # processes decoding/augmenting images (0 = a background thread)
    tokenizer: str = ""  # path; empty = the bundled pix2tex tokenizer
    half_weights: bool = True  # store best/weights.pth in float16 (half the size)
    mix: dict[str, float] | None = (
        None  # share of each epoch per style (renderer), e.g. {tex: 0.5, pdf: 0.25}
    )
    precision: str = (
        "auto"  # float32, bfloat16 (autocast), or auto: bfloat16 on CUDA and on CPUs with native bf16
    )
    channels_last: bool = True  # NHWC convolutions (faster on CPUs)
    group_lengths: bool = True  # batches of similar label lengths (less decoder padding)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        return structure(cls, raw, where="Training config", error=ModelError)[0]

    @property
    def tokenizer_path(self) -> Path:
        return Path(self.tokenizer) if self.tokenizer else PIX2TEX_TOKENIZER


def read_config(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[ModelConfig, TrainConfig]:
    """The model settings and the ``train:`` settings (with ``overrides`` applied) of a config file."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    tc = TrainConfig.from_dict({**(raw.pop("train", {}) or {}), **(overrides or {})})
    return ModelConfig.from_dict(raw), tc


def decay_start(tc: TrainConfig) -> int:
    """The step where the cosine decay begins: right after warmup, or ``decay_steps`` before the end.

    Holding the rate and decaying late lets a run of unknown length be cooled down whenever its
    budget is known (set ``total_steps`` and ``decay_steps``), and continued later from the
    pre-decay checkpoint with a new ``total_steps``."""
    if tc.decay_steps <= 0:
        return tc.warmup_steps
    return max(tc.warmup_steps, tc.total_steps - tc.decay_steps)


def learning_rate(step: int, tc: TrainConfig) -> float:
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    start = decay_start(tc)
    progress = min(1.0, max(0, step - start) / max(1, tc.total_steps - start))
    return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * progress))


def schedule_step(step: int, seconds: float, tc: TrainConfig) -> int:
    """The step the learning-rate schedule is at: ``step``, or with ``schedule_minutes`` set, the
    step that much training time would be at, if further along. A run with a time budget (a lent
    GPU of unknown speed) then warms up by steps but still cools down fully before its time is up."""
    if tc.schedule_minutes <= 0:
        return step
    return max(step, int(seconds / (tc.schedule_minutes * 60) * tc.total_steps))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Without it torch
    emulates bf16 matrix products, which runs them hundreds of times slower than float32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bfloat16(precision: str, device: torch.device) -> bool:
    if precision not in ("auto", "float32", "bfloat16"):
        raise ModelError(f"precision must be auto, float32 or bfloat16, not {precision!r}.")
    if precision == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    return precision == "bfloat16"


def update_average(average: Pix2TexModel, model: Pix2TexModel, decay: float, updates: int) -> None:
    """One EMA step, ``avg += (1 - d) * (w - avg)``: averages out the step-to-step noise of a
    constant learning rate, like a decayed schedule would, at no training cost. ``d`` ramps up as
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates so a young average follows its model."""
    d = min(decay, (1 + updates) / (10 + updates))
    pairs = list(zip(average.state_dict().values(), model.state_dict().values(), strict=True))
    floats = [(a, c) for a, c in pairs if a.is_floating_point()]
    with torch.no_grad():
        torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1.0 - d)  # one kernel for all
        for avg, cur in pairs:
            if not avg.is_floating_point():
                avg.copy_(cur)


def export_model(model: Pix2TexModel, cfg: ModelConfig, tokenizer_path: Path, out: Path, half: bool) -> None:
    """Write a model directory (config.yaml, weights.pth, tokenizer.json) usable by ``--model``."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cfg.to_yaml(tmp / "config.yaml")
    save_state_dict(model, tmp / "weights.pth", torch.float16 if half else None)
    shutil.copy(tokenizer_path, tmp / "tokenizer.json")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def export_checkpoint(run: str | Path, config_path: str | Path, out: str | Path) -> None:
    """Export a run's latest weights (``RUN/last.pt``, its EMA when it has one) as a model directory,
    e.g. to ship it or to continue it elsewhere."""
    cfg, tc = read_config(config_path)
    last = Path(run) / "last.pt"
    if not last.exists():
        raise ModelError(f"{run} holds no last.pt checkpoint to export.")
    model = Pix2TexModel(cfg)
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt.get("ema", ckpt["model"]))
    export_model(model, cfg, tc.tokenizer_path, Path(out), tc.half_weights)


def _progress(total: int, initial: int):
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
    return None


LOG_COLUMNS = ("time", "step", "epoch", "samples", "lr", "loss", *METRIC_COLUMNS)


@dataclass
class Run:
    """Everything a training run holds between steps; ``state`` is what ``last.pt`` keeps besides
    the weights (schedule and data position, best score, time)."""

    cfg: ModelConfig
    tc: TrainConfig
    out: Path
    dev: torch.device
    tokenizer: Tokenizer
    model: Pix2TexModel
    opt: torch.optim.Optimizer
    examples: list
    val_examples: list
    loaded: set[Path]  # shards read so far: ones written while the run goes on join at the next epoch
    average: Pix2TexModel | None = None  # the EMA of the weights, when ``ema_decay`` > 0
    bf16: bool = False
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "step": 0,
            "epoch": 0,
            "consumed": 0,
            "best": -1.0,
            "samples": 0,
            "ema_updates": 0,
            "seconds": 0.0,
        }
    )

    @property
    def scored(self) -> Pix2TexModel:
        """What validation scores and ``best/`` holds: the weight average when there is one."""
        return self.average if self.average is not None else self.model

    def save(self, path: Path | None = None) -> None:
        path = path or self.out / "last.pt"
        tmp = path.with_suffix(".tmp")
        ema = {"ema": self.average.state_dict()} if self.average is not None else {}
        torch.save(
            {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), **ema, **self.state}, tmp
        )
        tmp.replace(path)


def build(
    config_path: str | Path,
    data_dirs: list[str | Path],
    out: str | Path,
    val_dir: str | Path | None = None,
    device: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Run:
    """A fresh run: config, tokenizer, examples, model and optimiser (nothing restored yet)."""
    cfg, tc = read_config(config_path, overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    torch.set_flush_denormal(True)  # Adam's tiny second moments turn denormal and crawl on x86
    tokenizer = Tokenizer(tc.tokenizer_path, pad=cfg.pad_token, bos=cfg.bos_token, eos=cfg.eos_token)
    if tokenizer.vocab_size > cfg.num_tokens:
        raise ModelError(
            f"num_tokens ({cfg.num_tokens}) is smaller than the tokenizer's {tokenizer.vocab_size}."
        )
    loaded: set[Path] = set()
    examples = load_examples(list(data_dirs), tokenizer, cfg.max_seq_len, loaded)
    if not examples:
        raise ModelError(f"No usable training examples in {', '.join(map(str, data_dirs))}.")
    val_examples = load_examples([val_dir], tokenizer, cfg.max_seq_len)[: tc.val_samples] if val_dir else []
    log.info("training on %d examples (%d for validation) on %s", len(examples), len(val_examples), dev)

    model = Pix2TexModel(cfg).to(dev)
    named = list(model.named_parameters())
    decays = [p.ndim >= 2 and "pos_emb" not in n and "token_emb" not in n for n, p in named]
    opt = torch.optim.AdamW(
        [
            {"params": [p for (_, p), d in zip(named, decays) if d], "weight_decay": tc.weight_decay},
            {"params": [p for (_, p), d in zip(named, decays) if not d], "weight_decay": 0.0},
        ],
        lr=tc.lr,
        fused=True,
    )
    return Run(cfg, tc, out, dev, tokenizer, model, opt, examples, val_examples, loaded)


def restore(run: Run, init: str | Path | None = None) -> None:
    """Resume from ``RUN/last.pt`` when it exists, else start from ``init``'s weights (if given); then
    make the weight average and set the precision and memory format."""
    last = run.out / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True) if last.exists() else None
    if ckpt is not None:
        run.model.load_state_dict(ckpt["model"])
        run.opt.load_state_dict(ckpt["optimizer"])
        run.state.update({k: ckpt.get(k, v) for k, v in run.state.items()})
        log.info("resumed from %s at step %d", last, run.state["step"])
    elif init:
        load_into(run.model, read_state_dict(Path(init) / "weights.pth"), Path(init) / "weights.pth")
        log.info("starting from the weights of %s", init)
    if run.tc.ema_decay > 0:
        run.average = copy.deepcopy(run.model).eval().requires_grad_(False)
        if ckpt is not None and "ema" in ckpt:
            run.average.load_state_dict(ckpt["ema"])
    run.bf16 = use_bfloat16(run.tc.precision, run.dev)
    # torch's fused CPU attention has a slow backward pass at this model's sizes in bf16; as matrix
    # products and a softmax a decoder layer's attention is 2-5x faster. In float32, and on CUDA, the
    # fused kernels stay (faster there). Measurements: docs/benchmarks.md, "Training throughput".
    use_fused_attention(run.model, fused=not (run.bf16 and run.dev.type == "cpu"))
    if run.tc.channels_last:
        run.model.to(memory_format=torch.channels_last)
    log.info("precision %s, channels_last %s", "bfloat16" if run.bf16 else "float32", run.tc.channels_last)


def label_loss(
    model: Pix2TexModel, images: torch.Tensor, tokens: torch.Tensor, pad: int, reduction: str = "mean"
) -> torch.Tensor:
    """Teacher-forced cross-entropy of ``tokens`` (B, T) over their label positions; the output head
    runs only there, not at padding (a quarter of the positions)."""
    targets = tokens[:, 1:]  # (B, T-1)
    real = targets != pad
    logits = model(images, tokens[:, :-1], real)  # (N, V), N = real.sum()
    return F.cross_entropy(logits.float(), targets[real], reduction=reduction)


def step(run: Run, images: torch.Tensor, tokens: torch.Tensor, lr: float) -> float:
    """One optimisation step on a batch, ``images`` (B, C, H, W) and ``tokens`` (B, T); its loss."""
    tc, dev = run.tc, run.dev
    images, tokens = images.to(dev, non_blocking=True), tokens.to(dev, non_blocking=True)
    if tc.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    for group in run.opt.param_groups:
        group["lr"] = lr
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=run.bf16)
    with amp:
        loss = label_loss(run.model, images, tokens, run.cfg.pad_token)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), tc.clip)
    run.opt.step()
    if run.average is not None:
        update_average(run.average, run.model, tc.ema_decay, run.state["ema_updates"])
        run.state["ema_updates"] += 1
    run.state["step"] += 1
    run.state["samples"] += images.shape[0]
    return loss.item()


def validate_and_export(run: Run) -> dict[str, float]:
    """Score the validation examples; a new best goes to ``RUN/best`` as a model directory."""
    metrics = validate(run.scored, run.cfg, run.tokenizer, run.val_examples, run.dev)
    run.model.train()
    if metrics["bleu"] > run.state["best"]:
        run.state["best"] = metrics["bleu"]
        export_model(run.scored, run.cfg, run.tc.tokenizer_path, run.out / "best", run.tc.half_weights)
    log.info("step %d: %s", run.state["step"], metrics)
    return metrics


class RunLog:
    """``RUN/log.csv``: a row every ``log_every`` steps and at each validation, with the mean loss since
    the last row."""

    def __init__(self, path: Path) -> None:
        new = not path.exists()
        self.file = path.open("a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(LOG_COLUMNS)
        self.loss, self.n = 0.0, 0

    def add(self, loss: float) -> None:
        self.loss, self.n = self.loss + loss, self.n + 1

    @property
    def mean(self) -> float:
        return self.loss / max(self.n, 1)

    def row(self, seconds: float, state: dict[str, Any], lr: float, metrics: dict[str, float]) -> None:
        scores = (f"{metrics[k]:.4f}" if k in metrics else "" for k in METRIC_COLUMNS)
        self.writer.writerow(
            [
                round(seconds, 1),
                state["step"],
                state["epoch"],
                state["samples"],
                f"{lr:.3g}",
                f"{self.mean:.4f}",
                *scores,
            ]
        )
        self.file.flush()
        self.loss, self.n = 0.0, 0

    def close(self) -> None:
        self.file.close()


@contextmanager
def stop_requests() -> Iterator[list[int]]:
    """SIGINT and SIGTERM while training ask it to stop after the current step, checkpointed, rather than
    kill it mid-step: the list gets the signal's number. A second Ctrl+C interrupts at once."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def ask(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and received:
            raise KeyboardInterrupt
        received.append(signum)
        log.warning("stopping after this step with RUN/last.pt saved; Ctrl+C again to stop at once")

    previous = {sig: signal.signal(sig, ask) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train(
    config_path: str | Path,
    data_dirs: list[str | Path],
    out: str | Path,
    *,
    val_dir: str | Path | None = None,
    device: str | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    max_epochs: int | None = None,
    init: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) and return the final record (step, loss, best metric).

    ``init``: a model directory whose weights start a new run (e.g. continue the shipped model);
    ignored when ``out/last.pt`` exists. ``overrides``: training settings replacing the config's.
    ``max_epochs``: stop after that many passes over the data (benchmarks time one whole pass).
    SIGINT / SIGTERM end it after the current step with ``RUN/last.pt`` saved (``"stopped"`` in the record).
    """
    run = build(config_path, data_dirs, out, val_dir, device, overrides)
    restore(run, init)
    tc, state = run.tc, run.state
    csv_log = RunLog(run.out / "log.csv")
    bar = _progress(tc.total_steps, state["step"])
    stable_step = decay_start(tc) if tc.decay_steps > 0 else None  # where a late decay begins
    t0 = last_ckpt = time.monotonic()
    seconds0 = state["seconds"]  # training time of earlier processes of this run
    run.model.train()
    with stop_requests() as stop, closing(csv_log), closing(bar) if bar is not None else nullcontext():
        while state["step"] < tc.total_steps:
            batches = bucketed_batches(
                run.examples,
                run.cfg,
                seed=tc.seed,
                epoch=state["epoch"],
                pixel_budget=tc.pixel_budget,
                max_batch=tc.max_batch,
                skip=state["consumed"],
                workers=tc.data_workers,
                mix=tc.mix,
                group_lengths=tc.group_lengths,
            )
            for images, tokens, consumed in prefetch(batches):
                state["seconds"] = seconds0 + time.monotonic() - t0
                if state["step"] == stable_step:
                    run.save(run.out / "stable.pt")  # copy it to RUN/last.pt to go on from before the decay
                at = schedule_step(state["step"], state["seconds"], tc)
                lr = learning_rate(at, tc)
                loss = step(run, images, tokens, lr)
                state["consumed"] = consumed
                csv_log.add(loss)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{csv_log.mean:.3f}", epoch=state["epoch"])
                out_of_time = max_minutes is not None and time.monotonic() - t0 > max_minutes * 60
                finished = (
                    max(state["step"], at) >= tc.total_steps
                    or (max_steps and state["step"] >= max_steps)
                    or out_of_time
                    or bool(stop)
                )
                metrics: dict[str, float] = {}
                # the last weights are validated too: after a decay they are often the best
                if run.val_examples and (state["step"] % tc.val_every == 0 or (finished and not stop)):
                    metrics = validate_and_export(run)
                if metrics or state["step"] % tc.log_every == 0:
                    csv_log.row(time.monotonic() - t0, state, lr, metrics)
                if time.monotonic() - last_ckpt > tc.checkpoint_minutes * 60:
                    run.save()
                    last_ckpt = time.monotonic()
                if finished:
                    run.save()
                    return {**state, "loss": loss, **({"stopped": True} if stop else {})}
            state["epoch"] += 1
            state["consumed"] = 0
            if max_epochs is not None and state["epoch"] >= max_epochs:
                break
            run.examples.extend(
                load_examples(list(data_dirs), run.tokenizer, run.cfg.max_seq_len, run.loaded)
            )
        state["seconds"] = seconds0 + time.monotonic() - t0
        run.save()
        return {**state}
