#!/bin/sh
# Install headless Chromium (Debian package `chromium`) for the Data Docs rendering test.
# Idempotent: does nothing when a Chromium binary is already on PATH. Exits non-zero when it
# cannot install (no root, no apt-get, no package index); the test then skips and says why.
set -eu

for bin in chromium chromium-browser google-chrome; do
    if command -v "$bin" >/dev/null 2>&1; then
        echo "install_chromium: $(command -v "$bin") already installed"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium: apt-get not found (not a Debian-like system)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_chromium: need root or password-less sudo to run apt-get" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package index when it has never been fetched.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
    $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
command -v chromium
