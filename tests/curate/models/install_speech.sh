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

# shellcheck disable=SC2086  # $missing is a list of package names
sh "$(dirname "$0")/../../apt_install.sh" install_speech $missing
[ -f "$LIBRIVOX" ] && command -v espeak-ng
