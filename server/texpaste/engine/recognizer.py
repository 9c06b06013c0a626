"""The recognition engine: image(s) -> LaTeX with candidates and per-stage timings.

``Recognizer.load`` resolves a model (bundled, cached or a directory), builds it on the best
device with an explicit thread count, and keeps it ready; ``recognize`` / ``recognize_many``
run preprocessing -> (resizer) -> encoder -> cached decoder -> detokenise -> post-process.
Images of different sizes share one decoding batch: each size group is encoded on its own
and the contexts are padded and masked, so batching never changes a result.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from texpaste.engine import imaging
from texpaste.engine.postprocess import post_process, strip_delimiters
from texpaste.engine.store import ResolvedModel, resolve
from texpaste.errors import ModelError, TexpasteError
from texpaste.limits import check_decode_options
from texpaste.model.checkpoint import load_into, read_state_dict
from texpaste.model.config import ModelConfig
from texpaste.model.generate import Guard, Hypothesis, beam_search, sample
from texpaste.model.network import Pix2TexModel
from texpaste.model.resizer import build_resizer
from texpaste.model.tokenizer import Tokenizer

log = logging.getLogger(__name__)

ImageInput = Any  # PIL.Image.Image | bytes | str | Path
LENGTH_SLACK = 16  # tokens allowed beyond ``tokens_per_cell`` x cells (short formulas in small images)


@dataclass
class Candidate:
    latex: str
    score: float  # mean log-probability per token; exp(score) is a per-token confidence


@dataclass
class Recognition:
    latex: str
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    # the best score is below the model's calibrated ``doubt_threshold`` (None: the model has none)
    doubtful: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "latex": self.latex,
            "candidates": [{"latex": c.latex, "score": round(c.score, 4)} for c in self.candidates],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "doubtful": self.doubtful,
        }


def pick_device(name: str | None = None) -> torch.device:
    """Explicit choice, else CUDA > Apple MPS > CPU."""
    if name and name != "auto":
        check_decode_options(device=name)
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"Device {name} was asked for, but torch sees no CUDA GPU here.")
        if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ModelError("Device mps was asked for, but this machine has no Apple GPU.")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_threads() -> int:
    """One thread per core we may use (affinity-aware); oversubscription makes CPU decoding crawl."""
    env = os.environ.get("TEXPASTE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class Recognizer:
    def __init__(
        self,
        model: Pix2TexModel,
        tokenizer: Tokenizer,
        cfg: ModelConfig,
        *,
        resizer: torch.nn.Module | None = None,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        name: str = "model",
        notice: str | None = None,
        rescale: bool = True,
        guard: bool = True,
    ):
        self.model, self.tokenizer, self.cfg, self.resizer = model, tokenizer, cfg, resizer
        self.device, self.dtype, self.name, self.notice = device, dtype, name, notice
        self.rescale = rescale  # glyph-scale normalisation (off: pix2tex's exact preprocessing)
        self.guard = guard  # stop looping hypotheses, bound the length by the image (off: pix2tex's decoding)
        self._lock = threading.Lock()  # one inference at a time on the shared weights
        self._resizer_seconds = 0.0

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        *,
        device: str | None = None,
        threads: int | None = None,
        half: bool | None = None,
        download: bool = True,
        progress: Callable[[str, int, int | None], None] | None = None,
        rescale: bool = True,
        guard: bool = True,
    ) -> Recognizer:
        """Load a named model (``pix2tex``, ``texpaste-small``), a model directory, or the default.

        ``half`` defaults to float16 on CUDA/MPS and float32 on the CPU. ``rescale`` and ``guard``
        switch glyph-scale normalisation and the runaway guard (both on: pix2tex has neither).
        """
        resolved: ResolvedModel = resolve(
            str(model) if model is not None else None, download=download, progress=progress
        )
        torch.set_num_threads(threads or default_threads())
        dev = pick_device(device)
        use_half = dev.type in ("cuda", "mps") if half is None else half
        return cls.from_directory(
            resolved.path,
            device=dev,
            dtype=torch.float16 if use_half else torch.float32,
            name=resolved.name,
            notice=resolved.notice,
            rescale=rescale,
            guard=guard,
        )

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        name: str | None = None,
        notice: str | None = None,
        rescale: bool = True,
        guard: bool = True,
    ) -> Recognizer:
        path = Path(path)
        cfg = ModelConfig.from_yaml(path / "config.yaml")
        tokenizer = Tokenizer(
            path / "tokenizer.json", pad=cfg.pad_token, bos=cfg.bos_token, eos=cfg.eos_token
        )
        if tokenizer.vocab_size > cfg.num_tokens:
            raise ModelError(f"Model {path}: the tokenizer has more tokens than the config's num_tokens.")
        model = Pix2TexModel(cfg)
        load_into(model, read_state_dict(path / "weights.pth"), path / "weights.pth")
        resizer = None
        if (path / "image_resizer.pth").exists():
            resizer = build_resizer(cfg)
            load_into(resizer, read_state_dict(path / "image_resizer.pth"), path / "image_resizer.pth")
            resizer = resizer.to(device).eval()  # the resizer stays float32: it is small and argmax-sensitive
        model = model.to(device=device, dtype=dtype).eval()
        return cls(
            model,
            tokenizer,
            cfg,
            resizer=resizer,
            device=torch.device(device),
            dtype=dtype,
            name=name or path.name,
            notice=notice,
            rescale=rescale,
            guard=guard,
        )

    # -- stages ---------------------------------------------------------------------------

    def preprocess(self, image: ImageInput, resize: bool = True) -> np.ndarray:
        """Any accepted input -> the normalised (H, W) float32 array the encoder expects.

        By default the glyphs are rescaled to the height the model was trained on
        (``glyph_height`` of its config); pix2tex's resizer network, slow and unreliable on
        sizes it never saw, then has nothing left to do. With ``rescale=False`` on the
        Recognizer the pixels are pix2tex's own (resizer loop included when ``resize``).
        """
        return self.preprocess_scales(image, resize, first_only=True)[0]

    def preprocess_scales(
        self, image: ImageInput, resize: bool = True, first_only: bool = False
    ) -> list[np.ndarray]:
        """The input arrays to decode for one image: one per glyph height of ``decode_heights``
        (the first is ``preprocess``'s, and all there is with ``first_only``), or the one array.

        A glyph-size estimate is off by up to a third on some images and a model reads best near,
        not at, its training size; decoding at two heights and keeping the answer scored highest
        (``merge_scales``) gains more than any single height (docs/model-card.md, "Multi-scale")."""
        img = imaging.open_image(image)
        max_dims = (self.cfg.max_width, self.cfg.max_height)
        min_dims = (self.cfg.min_width, self.cfg.min_height)
        if self.rescale and self.cfg.glyph_height:
            heights = self.cfg.decode_heights[:1] if first_only else self.cfg.decode_heights
            arrays: list[np.ndarray] = []
            for h in heights:
                a = imaging.prepare(img, max_dims, min_dims, glyph_height=h)
                if not any(a.shape == b.shape and np.array_equal(a, b) for b in arrays):
                    arrays.append(a)  # a size limit can make two heights give the same pixels
            return arrays
        if self.resizer is not None and resize:
            return [imaging.resizer_loop(img, self._predict_width, max_dims, min_dims)]
        return [imaging.prepare(img, max_dims, min_dims)]

    def infer(
        self,
        inputs: Sequence[list[np.ndarray]],
        *,
        candidates: int,
        temperature: float,
        max_tokens: int | None,
        generator: torch.Generator | None = None,
        seconds: dict[str, float] | None = None,
    ) -> list[list[Hypothesis]]:
        """Ranked hypotheses per image from its arrays (``preprocess_scales``), all of them encoded
        and decoded as one batch; ``seconds`` receives the encoder's and the decoder's time."""
        owners = [k for k, arrays in enumerate(inputs) for _ in arrays]
        flat = [a for arrays in inputs for a in arrays]
        t0 = time.perf_counter()
        context, mask = self.encode(flat)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        hyps = self.decode(
            context,
            mask,
            candidates=candidates,
            temperature=temperature,
            max_tokens=max_tokens,
            generator=generator,
            shapes=[a.shape for a in flat],
        )
        if seconds is not None:
            seconds.update(encoder=t1 - t0, decoder=time.perf_counter() - t1)
        return self.merge_scales(owners, hyps, len(inputs))

    @staticmethod
    def merge_scales(
        owners: Sequence[int], hyps: Sequence[list[Hypothesis]], n: int
    ) -> list[list[Hypothesis]]:
        """The hypotheses of each of ``n`` images, pooled over its arrays (``owners[j]`` is the
        image of ``hyps[j]``) and ranked as decoding ranks them: finished before cut, then by score."""
        pooled: list[list[Hypothesis]] = [[] for _ in range(n)]
        for owner, options in zip(owners, hyps, strict=True):
            pooled[owner].extend(options)
        return [sorted(p, key=lambda h: (not h.finished, -h.score)) for p in pooled]

    @torch.inference_mode()
    def _predict_width(self, array: np.ndarray) -> int:
        assert self.resizer is not None
        t = time.perf_counter()
        x = torch.from_numpy(array)[None, None].to(self.device)
        width = (int(self.resizer(x).argmax(-1)) + 1) * 32
        self._resizer_seconds += time.perf_counter() - t
        return width

    @torch.inference_mode()
    def encode(self, arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encoder outputs (B, S, D), padded across size groups, with a (B, S) mask when padded."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, a in enumerate(arrays):
            groups.setdefault(a.shape, []).append(i)
        outputs: list[torch.Tensor | None] = [None] * len(arrays)
        for idx in groups.values():
            x = torch.from_numpy(np.stack([arrays[i] for i in idx]))[:, None].to(self.device, self.dtype)
            for i, ctx in zip(idx, self.model.encoder(x)):
                outputs[i] = ctx
        lengths = [o.shape[0] for o in outputs]  # type: ignore[union-attr]
        S = max(lengths)
        context = torch.zeros(len(arrays), S, self.cfg.dim, device=self.device, dtype=self.dtype)
        for i, o in enumerate(outputs):
            context[i, : lengths[i]] = o
        if len(set(lengths)) == 1:
            return context, None
        mask = (
            torch.arange(S, device=self.device)[None, :] < torch.tensor(lengths, device=self.device)[:, None]
        )
        return context, mask

    def decode(
        self,
        context: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        candidates: int,
        temperature: float,
        max_tokens: int | None,
        generator: torch.Generator | None = None,
        shapes: Sequence[tuple[int, ...]] = (),
    ) -> list[list[Hypothesis]]:
        """Hypotheses per image; ``shapes`` (the input arrays' (H, W)) bound each one's length."""
        cfg = self.cfg
        max_len = min(max_tokens or cfg.max_seq_len, cfg.max_seq_len) - 1
        guard = self._guard(shapes) if self.guard else None
        if candidates > 1:
            return beam_search(
                self.model.decoder,
                context,
                bos=cfg.bos_token,
                eos=cfg.eos_token,
                max_len=max_len,
                beams=candidates,
                context_mask=mask,
                vocab=self.tokenizer.vocab_size,
                guard=guard,
            )
        hyps = sample(
            self.model.decoder,
            context,
            bos=cfg.bos_token,
            eos=cfg.eos_token,
            max_len=max_len,
            temperature=temperature,
            context_mask=mask,
            generator=generator,
            vocab=self.tokenizer.vocab_size,
            guard=guard,
        )
        return [[h] for h in hyps]

    def _guard(self, shapes: Sequence[tuple[int, ...]]) -> Guard:
        """Loop detection, and a length bound of what each image can hold at the trained glyph size."""
        rate = self.cfg.tokens_per_cell
        if not rate or not shapes:
            return Guard()
        lens = [LENGTH_SLACK + math.ceil(rate * h * w / 1024) for h, w in shapes]
        return Guard(max_lens=torch.tensor(lens))

    def to_text(self, tokens: list[int]) -> str:
        return post_process(strip_delimiters(self.tokenizer.decode(tokens)))

    # -- public API -------------------------------------------------------------------------

    def recognize(
        self,
        image: ImageInput,
        *,
        candidates: int = 1,
        temperature: float = 0.0,
        resize: bool = True,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> Recognition:
        """LaTeX for one image; raises a TexpasteError subclass for unusable input."""
        result = self.recognize_many(
            [image],
            candidates=candidates,
            temperature=temperature,
            resize=resize,
            max_tokens=max_tokens,
            seed=seed,
        )[0]
        if isinstance(result, TexpasteError):
            raise result
        return result

    def recognize_many(
        self,
        images: Sequence[ImageInput],
        *,
        candidates: int = 1,
        temperature: float = 0.0,
        resize: bool = True,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[Recognition | TexpasteError]:
        """Recognise a batch in one decoding pass; a bad image yields its error, the rest still run.

        Raises ``RequestError`` for options out of range (``limits.check_decode_options``)."""
        check_decode_options(candidates, temperature, seed)
        with self._lock:
            t0 = time.perf_counter()
            self._resizer_seconds = 0.0
            arrays: dict[int, list[np.ndarray]] = {}
            results: list[Recognition | TexpasteError | None] = [None] * len(images)
            for i, image in enumerate(images):
                try:
                    arrays[i] = self.preprocess_scales(image, resize=resize)
                except TexpasteError as exc:
                    results[i] = exc
            t1 = time.perf_counter()
            if arrays:
                order = list(arrays)
                generator = None
                if seed is not None:
                    generator = torch.Generator(device=self.device).manual_seed(seed)
                stages: dict[str, float] = {}
                hyps = self.infer(
                    [arrays[i] for i in order],
                    candidates=candidates,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    generator=generator,
                    seconds=stages,
                )
                t3 = time.perf_counter()
                timings = {
                    "preprocess": (t1 - t0 - self._resizer_seconds) * 1e3,
                    "resizer": self._resizer_seconds * 1e3,
                    "encoder": stages["encoder"] * 1e3,
                    "decoder": stages["decoder"] * 1e3,
                    "total": (t3 - t0) * 1e3,
                }
                for i, options in zip(order, hyps):
                    results[i] = self._result(options, timings, candidates)
            return results  # type: ignore[return-value]

    def _result(self, options: list[Hypothesis], timings: dict[str, float], limit: int) -> Recognition:
        seen: dict[str, Candidate] = {}
        for h in options:
            text = self.to_text(h.tokens)
            if text not in seen:
                seen[text] = Candidate(text, h.score)
        cands = list(seen.values())[: max(1, limit)]
        threshold = self.doubt_threshold
        doubtful = None if threshold is None else bool(cands[0].score < threshold)
        return Recognition(cands[0].latex, cands, dict(timings), doubtful)

    @property
    def doubt_threshold(self) -> float | None:
        """The score under which an answer is more likely wrong than right, calibrated on the
        validation split when the model was shipped (``doubt_threshold`` in its config.yaml)."""
        value = self.cfg.extra.get("doubt_threshold")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
