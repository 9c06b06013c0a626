#!/usr/bin/env bash
# Installs what the web-math renderers (texpaste data render --renderer katex|mathjax) need.
# Idempotent: reruns skip what is there.
#   Debian: chromium (driven headless; playwright never downloads a browser), nodejs + npm if absent
#   webrender/node_modules: npm ci from webrender/package-lock.json (KaTeX, MathJax 3,
#                           playwright-core), run again only when the lock file changed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/webrender"
say() { echo "[render setup] $*" >&2; }
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

APT_PACKAGES=(chromium)
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

LOCK_STAMP=node_modules/.texpaste-lock.sha256
if ! sha256sum --status -c "$LOCK_STAMP" 2>/dev/null; then
    say "npm ci"
    npm ci --loglevel=error
    sha256sum package-lock.json > "$LOCK_STAMP"
fi
version() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || echo missing; }
say "ready: node $(node --version 2>/dev/null || echo missing), katex $(version katex)," \
    "mathjax-full $(version mathjax-full), $(chromium --version 2>/dev/null || echo 'chromium missing')"
