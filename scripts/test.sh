#!/usr/bin/env bash
# Set up everything the test suites need on a fresh Debian machine, then run every suite.
# Installs: TeX (renderer tests), the package (.venv), the reference pix2tex (.venv-reference).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern dvipng xvfb xclip xauth)
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

.venv/bin/python -m ruff check server tests benchmarks
.venv/bin/python -m pytest -q "$@"
