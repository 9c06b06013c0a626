#!/usr/bin/env bash
# Builds and tests the VS Code extension: typecheck, unit tests, wire test against the real
# `texpaste serve`, the .vsix, and the end-to-end tests in a real VS Code (code-server) with the
# .vsix installed. Needs scripts/setup.sh (here) and the repository's .venv (scripts/setup.sh at the root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VSC_DIR"
say() { echo "[vscode test] $*" >&2; }

export TEXPASTE_BIN="${TEXPASTE_BIN:-$REPO_ROOT/.venv/bin/texpaste}"
[ -x "$NODE_PKG/bin/node" ] && [ -f "$TOOLS/code-server/.complete" ] || { say "run clients/vscode/scripts/setup.sh first"; exit 1; }
[ -x "$TEXPASTE_BIN" ] || { say "$TEXPASTE_BIN missing: run scripts/setup.sh at the repository root"; exit 1; }

WORK="$(mktemp -d /tmp/tpvsc-XXXXXX)"  # short: the daemon's Unix socket path must stay < 100 bytes
stop_daemons() {
    for rt in "$WORK/w" "$WORK/e"; do TEXPASTE_RUNTIME_DIR="$rt" "$TEXPASTE_BIN" daemon stop >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap stop_daemons EXIT
mkdir -p -m 700 "$WORK/w" "$WORK/e"  # texpaste refuses a runtime directory others can enter

say "typecheck (tsc --strict), format check (prettier) and bundle (esbuild)"
npx tsc -p . --noEmit
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
if grep -rn "console\.\(log\|info\|warn\|error\|debug\)" src/; then say "src/ must not write to the console"; exit 1; fi
node scripts/build.mjs --production

say "unit tests"
node --test 'out/test/unit/*.test.js'

say "tiny random model for the wire and end-to-end tests"
"$TEXPASTE_BIN" models init "$WORK/tiny" --config "$REPO_ROOT/configs/tiny-test.yaml" >/dev/null
echo "doubt_threshold: 0.0" >> "$WORK/tiny/config.yaml"  # above every score it gives: each paste is doubtful
export TEXPASTE_TEST_MODEL="$WORK/tiny"

say "wire test (texpaste serve over stdio)"
TEXPASTE_RUNTIME_DIR="$WORK/w" node --test --test-timeout=180000 out/test/wire/wire.test.js

say "package the .vsix"
npx vsce package --no-dependencies --allow-missing-repository --out dist/texpaste.vsix </dev/null >/dev/null

say "end-to-end tests: the .vsix in code-server $CODE_SERVER_VERSION (VS Code 1.139.1), chromium + playwright-core"
TEXPASTE_RUNTIME_DIR="$WORK/e" node out/test/e2e/driver.js dist/texpaste.vsix
