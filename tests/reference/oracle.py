"""Runs the reference pix2tex 0.1.4 (timm 0.5.4, x-transformers 0.15.0) on a job written by tests/test_parity.py.

Usage, with the reference venv's python (scripts/setup-reference.sh):
    .venv-reference/bin/python tests/reference/oracle.py JOB.pt RESULT.pt

JOB.pt (torch.save) names state-dict files and image files and holds input tensors; RESULT.pt
gets the reference's outputs. Everything is batched into this one process so the suite starts
torch and pix2tex once. The reference's own code does all the work: ``get_model``, ``pad``,
``minmax_size`` and ``LatexOCR.__call__`` (with a stand-in model that captures the tensor it
would decode); this file only feeds inputs and collects outputs.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import types
import warnings

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations phones home on import
warnings.filterwarnings("ignore")


def _stub_unused_imports() -> None:
    """pix2tex.cli imports these at module level for the tokenizer, the clipboard copy and the
    weights download; the oracle uses none of them, so empty modules stand in."""
    stubs = {
        "transformers": {"PreTrainedTokenizerFast": None},
        "pandas": {},
        "pandas.io": {},
        "pandas.io.clipboard": {"copy": lambda text: None},
        "requests": {},
    }
    for name, attrs in stubs.items():
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            # torch._dynamo runs importlib.util.find_spec on these names, which needs a __spec__
            module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
            module.__dict__.update(attrs)
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)


_stub_unused_imports()

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from munch import Munch  # noqa: E402
from PIL import Image  # noqa: E402
from pix2tex import cli  # noqa: E402
from pix2tex.models import get_model  # noqa: E402
from pix2tex.utils import pad, parse_args  # noqa: E402
from timm.models.layers import StdConv2dSame  # noqa: E402
from timm.models.resnetv2 import ResNetV2  # noqa: E402


class Captured(Exception):
    """Raised by the stand-in model to carry the tensor LatexOCR would decode."""

    def __init__(self, tensor: torch.Tensor):
        super().__init__("captured")
        self.tensor = tensor


class CaptureModel:
    def generate(self, x: torch.Tensor, temperature: float = 0.25):
        raise Captured(x.detach().clone())


def reference_args(config_path: str) -> Munch:
    """The args LatexOCR builds from config.yaml (CPU, no wandb)."""
    with open(config_path, encoding="utf-8") as f:
        args = parse_args(Munch(yaml.safe_load(f)))
    args.update(device="cpu", wandb=False, no_cuda=True, no_resize=False)
    return args


def shapes(state: dict[str, torch.Tensor]) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in state.items()}


def run_model(job: dict, args: Munch, out: dict) -> None:
    model = get_model(args)
    out["model_shapes"] = shapes(model.state_dict())
    state = torch.load(job["model_state"], map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state, strict=True)
        out["strict_load_error"] = ""
    except RuntimeError as exc:
        out["strict_load_error"] = str(exc)
        return
    model.eval()
    with torch.no_grad():
        out["encoder_outputs"] = [model.encoder(x) for x in job["encoder_inputs"]]
        context, tokens = job["context"], job["tokens"]
        out["logits"] = model.decoder.net(tokens, context=context)
        # greedy by argmax over the reference's full forward, for exactly job["greedy_steps"] steps
        seq = torch.full((context.shape[0], 1), args.bos_token, dtype=torch.long)
        for _ in range(job["greedy_steps"]):
            logits = model.decoder.net(seq, context=context)[:, -1]
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], dim=1)
        out["greedy_argmax"] = seq[:, 1:]
        # and through pix2tex's own sampler at a near-zero temperature, never stopping at EOS
        torch.manual_seed(0)
        start = torch.full((context.shape[0], 1), args.bos_token, dtype=torch.long)
        out["greedy_generate"] = model.decoder.generate(
            start, job["greedy_steps"], eos_token=None, context=context, temperature=1e-8
        )


def build_resizer(args: Munch) -> ResNetV2:
    """The image resizer exactly as LatexOCR.__init__ builds it."""
    return ResNetV2(
        layers=[2, 3, 3],
        num_classes=max(args.max_dimensions) // 32,
        global_pool="avg",
        in_chans=1,
        drop_rate=0.05,
        preact=True,
        stem_type="same",
        conv_layer=StdConv2dSame,
    )


def as_array(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(img))


def run_images(job: dict, args: Munch, resizer: ResNetV2, out: dict) -> None:
    ocr = object.__new__(cli.LatexOCR)  # skip __init__: no checkpoint download, no tokenizer
    ocr.args, ocr.model, ocr.image_resizer, ocr.last_pic = args, CaptureModel(), resizer, None
    results = {}
    for case in job["images"]:
        res: dict = {}
        try:
            img = Image.open(case["path"])
            first = pad(img)
            res["pad"] = as_array(first)
            sized = cli.minmax_size(first, args.max_dimensions, args.min_dimensions)
            res["minmax"] = as_array(sized)
            res["pad2"] = as_array(pad(sized))
            modes = [False, True] if case["resize"] else [False]
            for resize in modes:
                try:
                    ocr(Image.open(case["path"]), resize=resize)
                except Captured as captured:
                    res["resized" if resize else "input"] = captured.tensor[0, 0]
        except Exception as exc:  # recorded: the parity tests document where pix2tex fails
            res["error"] = f"{type(exc).__name__}: {exc}"
        results[case["name"]] = res
    out["images"] = results


def main(job_path: str, result_path: str) -> None:
    assert timm.__version__ == "0.5.4", f"the oracle needs timm 0.5.4, found {timm.__version__}"
    torch.set_num_threads(int(os.environ.get("ORACLE_THREADS", "1")))
    job = torch.load(job_path, map_location="cpu", weights_only=True)
    args = reference_args(job["config"])
    out: dict = {"versions": {"timm": timm.__version__, "torch": str(torch.__version__)}}
    run_model(job, args, out)

    resizer = build_resizer(args)
    out["resizer_shapes"] = shapes(resizer.state_dict())
    try:
        resizer.load_state_dict(
            torch.load(job["resizer_state"], map_location="cpu", weights_only=True), strict=True
        )
        out["resizer_strict_load_error"] = ""
    except RuntimeError as exc:
        out["resizer_strict_load_error"] = str(exc)
        torch.save(out, result_path)
        return
    resizer.eval()
    with torch.no_grad():
        out["resizer_logits"] = [resizer(x) for x in job["resizer_inputs"]]
        run_images(job, args, resizer, out)
    torch.save(out, result_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
