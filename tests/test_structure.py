"""The package's import rules (docs/architecture.md), read from the source with ``ast``.

Every ``import`` counts, also those deferred inside functions: a deferred import still runs in the
process that calls it. The rules say which group may import which; the torch-free rule follows the
module-level imports transitively, because those are what loading a module costs.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "server" / "texpaste"
HEAVY = ("torch", "torchvision", "timm", "numpy", "PIL")

# group -> the groups it may import (itself always). A group is the first name under texpaste.
MAY_IMPORT = {
    "assets": set(),
    "errors": set(),
    "limits": {"errors"},
    "typed": set(),  # the one converter of settings and configs (standard library only)
    "model": {"errors", "assets", "typed"},
    "engine": {"model", "errors", "limits", "assets"},
    "service": {"engine", "errors", "limits", "texpaste"},
    "editor": {"service", "engine", "errors", "limits", "typed", "texpaste"},
    "data": {"errors"},
    "training": {"engine", "model", "data", "errors", "assets", "typed"},
    "texpaste": {"engine"},  # the lazy ``from texpaste import Recognizer``
    "cli": {"*"},  # the entry point dispatches to every process
    "__main__": {"cli"},
}
# Within those, the few engine modules the editor side may use, and why.
EDITOR_USES_OF_ENGINE = {
    "texpaste.engine.store",  # resolves the model name the requester chose (no torch)
    "texpaste.engine.postprocess",  # strips delimiters before wrapping (pure strings)
    "texpaste.engine.imaging",  # the clipboard checks an image's size before sending it (deferred)
}
# Modules of the thin processes (language server, CLI front): loading them must not load HEAVY.
THIN = [
    "texpaste",
    "texpaste.cli",
    "texpaste.service.client",
    "texpaste.service.backend",
    "texpaste.service.wire",
    "texpaste.service.runtime",
    *(f"texpaste.editor.{p.stem}" for p in sorted((PKG / "editor").glob("*.py")) if p.stem != "__init__"),
]


def _module_name(path: Path) -> str:
    parts = ["texpaste", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _group(module: str) -> str:
    return module.split(".")[1] if "." in module else "texpaste"


@cache
def _imports(module: str) -> tuple[tuple[str, bool], ...]:
    """(imported module, at module level) for every import in ``module``; relative ones resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    type_only = {
        id(n)
        for node in tree.body
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:  # ``from pkg import submodule`` imports the submodule
                name = f"{base}.{alias.name}"
                out.append((name if name in MODULES else base, id(node) in top))
    return tuple(out)


def test_every_module_is_in_a_group_with_rules():
    assert {_group(m) for m in MODULES} <= set(MAY_IMPORT)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_one_way(module):
    group = _group(module)
    allowed = MAY_IMPORT[group] | {group}
    wrong = []
    for target, _ in _imports(module):
        if target.split(".")[0] != "texpaste":
            continue
        if "*" not in allowed and _group(target) not in allowed:
            wrong.append(target)
        if group == "editor" and _group(target) == "engine" and target not in EDITOR_USES_OF_ENGINE:
            wrong.append(target)
    assert not wrong, f"{module} ({group}) may not import {sorted(set(wrong))}"


def _loads(module: str, seen: set[str] | None = None) -> set[str]:
    """Every module that importing ``module`` imports (module level only, transitively)."""
    seen = set() if seen is None else seen
    for target, at_top in _imports(module):
        if not at_top or target in seen:
            continue
        seen.add(target)
        if target in MODULES:
            _loads(target, seen)
        for parent in (".".join(target.split(".")[:i]) for i in range(2, target.count(".") + 1)):
            if parent in MODULES and parent not in seen:  # importing a.b.c runs a/__init__ and a/b/__init__
                seen.add(parent)
                _loads(parent, seen)
    return seen


@pytest.mark.parametrize("module", THIN)
def test_the_thin_processes_load_no_torch_numpy_or_pil(module):
    heavy = sorted(m for m in _loads(module) if m.split(".")[0] in HEAVY)
    assert not heavy, f"importing {module} loads {heavy}"


def test_the_rules_catch_a_wrong_import(tmp_path, monkeypatch):
    """The checker itself: an editor module that imports the recognizer, and one that loads torch."""
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom texpaste.engine import recognizer\n")
    monkeypatch.setitem(MODULES, "texpaste.editor.bad", bad)
    _imports.cache_clear()
    with pytest.raises(AssertionError, match="may not import"):
        test_imports_flow_one_way("texpaste.editor.bad")
    with pytest.raises(AssertionError, match="loads"):
        test_the_thin_processes_load_no_torch_numpy_or_pil("texpaste.editor.bad")
    _imports.cache_clear()
