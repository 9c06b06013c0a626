"""The one converter from JSON and YAML values to texpaste's typed dataclasses: the editor settings,
the model config and the training config.

Each value is checked against the annotation of the field it sets and never coerced: YAML 1.1 reads
``5e-4`` as the text "5e-4", and a silent ``float()`` would hide that the user's file says something
else than they think. A mismatch, an unknown key or a failed field check is one sentence naming the
key. Field metadata may name the JSON key (``key``) and a converter for a nested value
(``convert``); ``None`` keeps the field's current value. Standard library only: the thin language
server uses it too.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def structure(
    cls: type[T],
    raw: Mapping[str, Any],
    *,
    where: str,
    error: Callable[[str], Exception] = ValueError,
    base: T | None = None,
    unknown: str = "error",  # error | keep (returned by the caller's ``extra``) | ignore
    ignore: Collection[str] = (),
) -> tuple[T, dict[str, Any]]:
    """``cls`` built from ``raw`` over ``base`` (or the defaults), and the keys it does not know
    (those go to ``error`` unless ``unknown`` says otherwise; ``ignore``\\d keys are dropped)."""
    hints = typing.get_type_hints(cls)
    by_key = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        f = by_key.get(key)
        if f is None or not f.init:
            if key in ignore:
                continue
            if unknown == "error":
                raise error(f"{where}: unknown key {key!r}.")
            extra[key] = value
            continue
        if value is None:
            continue  # null keeps the current value
        if "convert" in f.metadata:
            value = f.metadata["convert"](value)
        elif not _fits(value, hints[f.name]):
            raise error(f"{where}: {key} must be {describe(hints[f.name])}, not {value!r}{_hint(value)}.")
        values[f.name] = value
    built = dataclasses.replace(base, **values) if base is not None else cls(**values)  # type: ignore[type-var]
    return built, extra


def _hint(value: Any) -> str:
    if isinstance(value, str) and _is_number(value):  # YAML 1.1 reads 5e-4 (no dot) as text
        return f" (YAML read it as text: write {float(value)!r})" if "e" in value.lower() else " (quoted)"
    return ""


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and (not args or all(_fits(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict) and (
            not args or all(_fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items())
        )
    return True


def describe(hint: Any) -> str:
    """An annotation in words: ``int | None`` -> "a whole number or empty"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if hint is type(None):
        return "empty"
    if origin is list:
        return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )
