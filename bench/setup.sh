#!/usr/bin/env bash
# bench/setup.sh -- install what `make bench` needs under build/bench (gitignored), once:
#   build/bench/node/node_modules  mcp-hub@4.2.1 and server-everything (npm registry)
#   build/bench/venv               the benchmark client's interpreter + py-spy, matplotlib (PyPI)
# Re-running is cheap: each part is skipped when its stamp matches the pinned versions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BENCH_BUILD:-$ROOT/build/bench}"
PYTHON="${PYTHON:-python3}"
NODE_PKGS="mcp-hub@4.2.1 @modelcontextprotocol/server-everything@2026.8.31"
PY_PKGS="py-spy matplotlib"
command -v node >/dev/null || { echo "bench needs node and npm (Node 20+)" >&2; exit 1; }
mkdir -p "$BUILD/node"
if [[ "$(cat "$BUILD/node/.stamp" 2>/dev/null)" != "$NODE_PKGS" ]]; then
  (cd "$BUILD/node" && { [[ -f package.json ]] || npm init -y >/dev/null; } \
     && npm install --no-audit --no-fund --loglevel=error $NODE_PKGS)
  echo "$NODE_PKGS" > "$BUILD/node/.stamp"
fi
if [[ "$(cat "$BUILD/venv/.stamp" 2>/dev/null)" != "$PY_PKGS" ]]; then
  [[ -x "$BUILD/venv/bin/python" ]] || "$PYTHON" -m venv "$BUILD/venv"
  # matplotlib only draws latency.png; the benchmark runs without it
  "$BUILD/venv/bin/python" -m pip install --quiet py-spy
  "$BUILD/venv/bin/python" -m pip install --quiet matplotlib || echo "matplotlib unavailable: no PNG" >&2
  echo "$PY_PKGS" > "$BUILD/venv/.stamp"
fi
echo "bench env ready in $BUILD: mcp-hub $(node -p "require('$BUILD/node/node_modules/mcp-hub/package.json').version")"
