#!/usr/bin/env bash
# Build dist/mcp-hub.pyz: tornadohub and its dependencies in one reproducible shiv zipapp.
#
#   zipapp/build.sh                  # with the python3 on PATH (it needs pip and shiv)
#   PYTHON=.venv/bin/python zipapp/build.sh
#   OUT=/tmp/hub.pyz BUILD=/tmp/hub-build zipapp/build.sh
#
# The pyz holds compiled extensions (pydantic_core, cryptography, ...), so it runs only on the
# CPython minor version and platform it was built with. Dependencies are pinned to the versions
# installed in $PYTHON's environment (the ones the tests ran with); set PIN=0 to take the newest
# versions setup.cfg allows instead. SOURCE_DATE_EPOCH, if set, fixes the timestamps in the zip.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PIN=${PIN:-1}
OUT=${OUT:-dist/mcp-hub.pyz}
BUILD=${BUILD:-build/zipapp}
SITE=$BUILD/site-packages

rm -rf "$BUILD"
# pip builds the project in place: files left in build/lib by an earlier build (a file since
# removed from package_data, say) would slip into the pyz unnoticed.
rm -rf build/lib build/bdist.*
mkdir -p "$SITE" "$(dirname "$OUT")"

pip_args=(--quiet --disable-pip-version-check --no-compile --no-warn-script-location)
if [[ $PIN == 1 ]]; then
    "$PYTHON" -m pip freeze --disable-pip-version-check --exclude-editable \
        | grep -v '^tornadohub' >"$BUILD/constraints.txt" || true
    pip_args+=(--constraint "$BUILD/constraints.txt")
fi
# The cluster extra too (redis-py, pure Python): one pyz runs embedded or in a cluster.
"$PYTHON" -m pip install "${pip_args[@]}" --target "$SITE" ".[cluster]"

# Console scripts of the dependencies point at the build interpreter; the pyz never uses them.
rm -rf "$SITE/bin"

"$PYTHON" -m shiv \
    --site-packages "$SITE" \
    --entry-point tornadohub.cli:main \
    --python '/usr/bin/env python3' \
    --reproducible \
    --compressed \
    --output-file "$OUT"

size=$(stat -c %s "$OUT")
echo "built $OUT ($((size / 1024)) KiB) with $("$PYTHON" -c 'import sys; print(sys.implementation.cache_tag)')"
