#!/usr/bin/env bash
# Build the one-file `hub` executable (PyInstaller; spec: scripts/binary/hub.spec) into dist/hub.
# It runs on a machine without Python: `./hub serve` serves every built-in plugin on SQLite in
# ./data; third-party plugins join it through the plugins_path setting. scripts/smoke_binary.py
# checks it. Needs the venv (bash scripts/test.sh creates it; pyinstaller is in the test extra).
#   scripts/build_binary.sh            -> dist/hub
#   HUB_BINARY_DIST=/tmp/out scripts/build_binary.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
dist=${HUB_BINARY_DIST:-dist}
export HUB_BINARY_WORK=${HUB_BINARY_WORK:-build/binary}
started=$(date +%s)
# Build from a snapshot of the sources taken now: the build takes minutes, and files edited
# meanwhile must not mix two states of the tree in one binary.
export HUB_BINARY_SOURCE="$HUB_BINARY_WORK/src"
rm -rf "$HUB_BINARY_SOURCE" && mkdir -p "$HUB_BINARY_SOURCE"
tar -cf - --exclude=__pycache__ hub.py core plugins config | tar -xf - -C "$HUB_BINARY_SOURCE"
# No HUB_* setting of this shell may reach the plugin discovery the spec runs.
env $(env | awk -F= '/^HUB_/ && $1 !~ /^HUB_BINARY_/ {printf "-u %s ", $1}') \
    "$python" -m PyInstaller --noconfirm --log-level "${PYINSTALLER_LOG_LEVEL:-WARN}" \
    --distpath "$dist" --workpath "$HUB_BINARY_WORK" scripts/binary/hub.spec
seconds=$(( $(date +%s) - started ))
size=$(stat -c %s "$dist/hub")
echo "built $dist/hub: $(( size / 1024 / 1024 )) MiB ($size bytes) in ${seconds} s; built-in plugins: $(cut -d' ' -f1 "$HUB_BINARY_WORK/plugins.txt" | tr '\n' ' ')"
