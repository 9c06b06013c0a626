"""Reading and writing weight files: always ``weights_only`` loads and strict key checks."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from texpaste.errors import ModelError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a plain state dict safely (no pickled code) onto the CPU."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelError(f"Weights file {path} does not exist.") from exc
    except pickle.UnpicklingError as exc:  # weights_only refused an object (torch's text says to drop it)
        raise ModelError(
            f"Refusing weights file {path}: it is not a valid PyTorch state dict, it holds objects other "
            "than tensors, which could run code when loaded."
        ) from exc
    except Exception as exc:  # torch raises many types for a corrupt or non-checkpoint file
        raise ModelError(
            f"Cannot read weights file {path}: it is not a valid PyTorch state dict ({type(exc).__name__})."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"Weights file {path} does not hold a state dict of tensors.")
    return state


def load_into(module: nn.Module, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """Strict load that names what is missing, unexpected or mis-shaped in one sentence."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    for label, keys in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", shapes),
    ):
        if keys:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            problems.append(f"{len(keys)} {label} ({shown})")
    if problems:
        raise ModelError(f"Weights {source} do not fit the model config: {'; '.join(problems)}.")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def save_state_dict(module: nn.Module, path: str | Path, dtype: torch.dtype | None = None) -> None:
    """Write a plain state dict (optionally cast, e.g. to float16 for a smaller shipped file)."""
    state = module.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    tmp = Path(path).with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
