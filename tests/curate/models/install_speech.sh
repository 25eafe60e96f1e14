#!/bin/sh
# Install the speech the model tests listen to: Debian's `pocketsphinx-testdata` (real read
# speech from LibriVox with its transcripts) and `espeak-ng` (speech synthesised from text, in
# English, French and German). Idempotent: installs only what is missing. Exits non-zero when it
# cannot install (no root, no apt-get, no package index); the tests then skip and say why.
set -eu

LIBRIVOX=/usr/share/pocketsphinx/test/data/librivox/transcription
missing=""
[ -f "$LIBRIVOX" ] || missing="$missing pocketsphinx-testdata"
command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
if [ -z "$missing" ]; then
    echo "install_speech: pocketsphinx-testdata and espeak-ng already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_speech: apt-get not found (not a Debian-like system); missing:$missing" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_speech: need root or password-less sudo to run apt-get; missing:$missing" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package index when it has never been fetched.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
    $SUDO apt-get update -qq
fi
# shellcheck disable=SC2086  # $missing is a list of package names
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
[ -f "$LIBRIVOX" ] && command -v espeak-ng
