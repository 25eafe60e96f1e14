#!/bin/sh
# Usage: sh tests/engines/prism.sh [PYTHON, default .venv/bin/python]
# Builds Beam's Prism runner for the tests (tests/engines/test_prism.py) from the Go module proxy,
# at the release of the installed Beam SDK, into the engines cache:
#   ${CURATE_ENGINES_DIR:-.engines}/prism/prism-v<beam>
# tests/engines/prism/go.mod requires github.com/apache/beam/sdks/v2 at that release and its
# go.sum pins every module's hash, so `go build` verifies every download against it (the checksum
# database does not answer for v2.62.0 here, see docs/runners.md). A binary already there is kept.
# Bounded in time: CURATE_ENGINE_SETUP_TIMEOUT_S (default 1200 s). Without it the Prism test
# fails in CI and is skipped elsewhere.
set -eu
cd "$(dirname "$0")/../.."
PY=${1:-.venv/bin/python}  # the interpreter of the environment the tests run in
BEAM=$("$PY" -c 'from importlib.metadata import version; print(version("apache-beam"))')
MODULE=tests/engines/prism
if ! grep -q "^require github.com/apache/beam/sdks/v2 v$BEAM\$" "$MODULE/go.mod"; then
  echo "prism.sh: $MODULE/go.mod does not require Beam v$BEAM, the installed SDK" >&2
  exit 1
fi
DIR=${CURATE_ENGINES_DIR:-$(pwd)/.engines}/prism
BIN=$DIR/prism-v$BEAM
if [ -x "$BIN" ]; then
  echo "prism.sh: $BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "prism.sh: no Go toolchain on PATH: cannot build Prism" >&2
  exit 1
fi
mkdir -p "$DIR"
start=$(date +%s)
(cd "$MODULE" && GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly" \
  timeout "${CURATE_ENGINE_SETUP_TIMEOUT_S:-1200}" \
  go build -trimpath -o "$BIN.tmp.$$" github.com/apache/beam/sdks/v2/go/cmd/prism) || {
  rm -f "$BIN.tmp.$$"
  echo "prism.sh: go build of Prism v$BEAM failed" >&2
  exit 1
}
mv "$BIN.tmp.$$" "$BIN"
echo "prism.sh: built $BIN in $(( $(date +%s) - start )) s"
