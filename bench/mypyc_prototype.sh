#!/usr/bin/env bash
# The compiled-core prototype of issue 27, reproducible and outside the shared checkout:
# copy the tree to $OUT (no .venv, no .git), layer setuptools over the project's .venv, compile
# app/domain/{native,conditions,dag,facts}.py with mypyc, run the engine tests on the compiled
# modules, then `make bench`'s peer run on the pure and on the compiled modules.
#   bash bench/mypyc_prototype.sh [OUT=/tmp/mypyc-proto]
# Needs gcc and ../shared beside the project; the project tree is never changed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/mypyc-proto}
MODULES="app/domain/native.py app/domain/conditions.py app/domain/dag.py app/domain/facts.py"
rm -rf "$OUT" "$OUT-venv" && mkdir -p "$OUT"
tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./site --exclude=./.uv --exclude=./build \
  -cf - . | tar -xf - -C "$OUT"
ln -sfn "$ROOT/../shared" "$OUT/../shared" 2>/dev/null || true
python3 -m venv "$OUT-venv"
echo "$ROOT/.venv/lib/python3.11/site-packages" > "$OUT-venv/lib/python3.11/site-packages/zz_project.pth"
"$OUT-venv/bin/pip" install -q setuptools
cd "$OUT"
peers() {
  PKG_BENCH_OPA_BINDINGS=off "$ROOT/.venv/bin/python" ../shared/bench/run_peers.py \
    --engine bench.engine:factory --engine bench.engine:fresh --json "$1"
}
peers "$OUT/peers_pure.json" > "$OUT/peers_pure.txt"
"$OUT-venv/bin/python" -m mypyc $MODULES
"$ROOT/.venv/bin/python" -c "import app.domain.native as n; assert n.__file__.endswith('.so'), n.__file__"
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/engine
peers "$OUT/peers_mypyc.json" > "$OUT/peers_mypyc.txt"
grep -E "^N=|  zen  |factory" "$OUT/peers_pure.txt" "$OUT/peers_mypyc.txt"
