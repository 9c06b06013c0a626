#!/usr/bin/env bash
# Set up texpaste for development in .venv: the package (editable) and its test tools.
# On the project's build machines torch comes from local disk through constraints.txt; elsewhere
# pip resolves pyproject.toml's ranges (set TEXPASTE_NO_CONSTRAINTS=1 to skip the pins).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
[ "${TEXPASTE_NO_CONSTRAINTS:-0}" = 1 ] || PIP+=(-c "$ROOT/constraints.txt")
# torch first and alone: with the pins it is the local-disk build, not a multi-GB download
"${PIP[@]}" torch torchvision
"${PIP[@]}" -e "$ROOT[test]"
echo "texpaste set up in $VENV ($("$VENV/bin/texpaste" --version))" >&2
