#!/bin/sh
# Install Debian packages for the tests: `sh tests/apt_install.sh WHO PACKAGE...`.
# Needs root or password-less sudo; refreshes the package index only when it was never fetched
# (or when the first install fails). Exits non-zero, saying why on stderr, when it cannot.
set -eu
who=$1
shift

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: apt-get not found (not a Debian-like system); missing: $*" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "$who: need root or password-less sudo to run apt-get; missing: $*" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
    $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
