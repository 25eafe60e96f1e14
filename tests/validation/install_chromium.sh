#!/bin/sh
# Install headless Chromium (Debian package `chromium`) for the tests that open pages in it
# (the Data Docs site, the build report).
# Idempotent: does nothing when a Chromium binary is already on PATH. Exits non-zero when it
# cannot install (no root, no apt-get, no package index); the tests then skip and say why
# (in CI, CI=true, they fail instead).
set -eu

for bin in chromium chromium-browser google-chrome; do
    if command -v "$bin" >/dev/null 2>&1; then
        echo "install_chromium: $(command -v "$bin") already installed"
        exit 0
    fi
done

sh "$(dirname "$0")/../apt_install.sh" install_chromium chromium
command -v chromium
