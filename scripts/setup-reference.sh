#!/usr/bin/env bash
# Create .venv-reference: the released pix2tex 0.1.4 with its pinned timm 0.5.4 and x-transformers
# 0.15.0, used by tests/test_parity.py as a test oracle (run there through tests/reference/oracle.py).
#
# torch, torchvision, numpy, pillow and pyyaml are not installed again: a .pth file appends the main
# venv's site-packages to sys.path, after the reference venv's own, so the reference runs the very
# same torch build while its timm 0.5.4 shadows the main venv's timm 1.x.
#
# Environment: REFERENCE_VENV (default <repo>/.venv-reference), MAIN_VENV (default <repo>/.venv).
# Idempotent: a stamp records what was installed; a second run only re-checks the pinned versions
# (well under a second) and rebuilds when the pins, constraints.txt or the main venv changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN_VENV="${MAIN_VENV:-$ROOT/.venv}"
REF="${REFERENCE_VENV:-$ROOT/.venv-reference}"

# Installed with --no-deps: their metadata would pull a second torch, transformers, pandas, ...
# entmax is an import-time dependency of x-transformers 0.15.0.
NO_DEPS=(pix2tex==0.1.4 timm==0.5.4 x-transformers==0.15.0 entmax==1.3)
# Installed with their dependencies, under constraints.txt (minus its timm pin): pix2tex.models needs
# einops; pix2tex.utils needs cv2 and munch; pix2tex.cli imports dataset/transforms.py, which needs
# albumentations (capped at 1.4.24 by the 0.1.4 wheel: 2.x rejects its GaussNoise(10, ...)).
WITH_DEPS=(einops==0.8.1 munch==4.0.0 opencv-python-headless==4.11.0.86 albumentations==1.4.24)

die() { echo "setup-reference: $*" >&2; exit 1; }

[ -x "$MAIN_VENV/bin/python" ] || die "main venv not found at $MAIN_VENV (set MAIN_VENV)"
MAIN_SITE="$("$MAIN_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

export NO_ALBUMENTATIONS_UPDATE=1 PYTHONWARNINGS=ignore  # albumentations checks PyPI on import

# The stamp covers this script (the pins), the main venv's location and its constraints.
STAMP_WANTED="$(cat "${BASH_SOURCE[0]}" "$ROOT/constraints.txt" <(echo "$MAIN_SITE") | sha256sum | cut -c1-16)"
STAMP_FILE="$REF/.texpaste-reference"
if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP_WANTED" ]; then
    # cheap re-check (no torch import): the reference's own pins win on sys.path
    if "$REF/bin/python" -c '
import importlib.metadata as m, sys
sys.exit(m.version("timm") != "0.5.4" or m.version("pix2tex") != "0.1.4" or m.version("torch") == "")'; then
        echo "reference venv already set up at $REF"
        exit 0
    fi
    echo "reference venv at $REF is broken; rebuilding" >&2
fi

start=$SECONDS
[ ! -e "$REF" ] || [ -f "$REF/pyvenv.cfg" ] || die "$REF exists and is not a virtual environment"
"$MAIN_VENV/bin/python" -m venv --clear "$REF"
REF_SITE="$("$REF/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# A plain path line: appended to sys.path after the reference venv's own site-packages.
echo "$MAIN_SITE" > "$REF_SITE/_texpaste_main_venv.pth"

CONSTRAINTS="$REF/constraints.txt"
grep -v -E '^timm==' "$ROOT/constraints.txt" > "$CONSTRAINTS"
PIP=("$REF/bin/python" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS")
"${PIP[@]}" "${WITH_DEPS[@]}"
"${PIP[@]}" --no-deps "${NO_DEPS[@]}"  # last, so pip does not flag pix2tex's deliberately missing deps

"$REF/bin/python" - <<'EOF'
import timm, pix2tex.models, pix2tex.utils  # noqa: F401
assert timm.__version__ == "0.5.4", f"timm {timm.__version__} shadows the reference's 0.5.4"
import albumentations, torch
print(f"reference venv ok: timm {timm.__version__}, torch {torch.__version__} (from the main venv), "
      f"albumentations {albumentations.__version__}")
EOF
echo "$STAMP_WANTED" > "$STAMP_FILE"
echo "reference venv set up at $REF in $((SECONDS - start)) s"
