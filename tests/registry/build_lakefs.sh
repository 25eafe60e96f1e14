#!/bin/sh
# Build the pinned lakeFS server for the tests: `sh tests/registry/build_lakefs.sh`.
#
# The binary goes to .cache/lakefs/<version>/lakefs (gitignored); a second run finds it there and
# does nothing. lakeFS is built from its Go module (the Go module proxy serves it; since
# treeverse/lakeFS#10030, merged 2026-01-22, the module builds without code generation or the
# web UI). A plain `go install ...@version` refuses it (its go.mod has a `replace` line), so the
# module is downloaded, copied to a writable directory and built there. Go's module and build caches are
# Go's own (GOMODCACHE, GOCACHE), so a fresh clone on a machine that built it before is quick.
#
# Bounded in time: download and build each get LAKEFS_BUILD_TIMEOUT seconds (default 1500).
# Exits non-zero, saying why on stderr, when it cannot build; the tests that need lakeFS then
# skip saying why, or fail under CI=true.
set -eu

VERSION=${LAKEFS_VERSION:-v1.86.0}
MODULE=github.com/treeverse/lakefs
LIMIT=${LAKEFS_BUILD_TIMEOUT:-1500}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$ROOT/.cache/lakefs/$VERSION"
BIN="$DEST/lakefs"

if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "${VERSION#v}"; then
    echo "build_lakefs: $BIN already built ($VERSION)"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "build_lakefs: go not found on PATH; lakeFS $VERSION cannot be built" >&2
    exit 1
fi

mkdir -p "$DEST"
WORK=$(mktemp -d "$DEST/.build-XXXXXX")
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
start=$(date +%s)

# GOTOOLCHAIN=local: use the installed Go, never download another toolchain.
export GOTOOLCHAIN=local GOFLAGS=-modcacherw
cd "$WORK"
if ! timeout "$LIMIT" go mod download -json "$MODULE@$VERSION" >download.json 2>download.err; then
    echo "build_lakefs: go mod download $MODULE@$VERSION failed:" >&2
    cat download.err download.json >&2
    exit 1
fi
SRC=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' download.json)
if [ -z "$SRC" ] || [ ! -f "$SRC/go.mod" ]; then
    echo "build_lakefs: go mod download gave no module directory:" >&2
    cat download.json >&2
    exit 1
fi
cp -R "$SRC" src
chmod -R u+w src
cd src
echo "build_lakefs: building $MODULE/cmd/lakefs $VERSION (a cold build takes several minutes)"
if ! timeout "$LIMIT" go build -trimpath \
        -ldflags "-s -w -X $MODULE/pkg/version.Version=${VERSION#v}" \
        -o "$WORK/lakefs" ./cmd/lakefs; then
    echo "build_lakefs: go build ./cmd/lakefs of $MODULE@$VERSION failed or took over ${LIMIT}s" >&2
    exit 1
fi
mv "$WORK/lakefs" "$BIN"
echo "build_lakefs: built $BIN ($("$BIN" --version)) in $(( $(date +%s) - start ))s"
