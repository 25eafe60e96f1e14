"""Speech for the model tests, made or found by code: no audio files live in the repository.

* Real read speech: the five LibriVox utterances of Debian's ``pocketsphinx-testdata``
  (Sense and Sensibility, 16 kHz mono, with their transcripts).
* Synthetic speech: ``espeak-ng`` reading sentences in English, French and German.
* Non-speech: digital silence and seeded noises (white, brown, mains hum).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import soundfile as sf

from curate.models.records import MODEL_RATE_HZ, ModelInput

LIBRIVOX_DIR = "/usr/share/pocketsphinx/test/data/librivox"

ENGLISH = (
    "the weather was cold and the wind blew across the empty fields all morning",
    "she opened the old wooden door and walked slowly into the quiet garden",
)
FRENCH = (
    "le petit chat dort tranquillement sur le canapé pendant que la pluie tombe dehors",
    "nous avons visité le musée avec nos amis et ensuite nous avons mangé au restaurant",
)
GERMAN = (
    "der alte Mann geht jeden Morgen mit seinem Hund durch den großen Wald spazieren",
    "wir haben gestern Abend einen sehr interessanten Film im Kino gesehen",
)


def has_librivox() -> bool:
    return os.path.isfile(os.path.join(LIBRIVOX_DIR, "transcription"))


def has_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def librivox() -> dict[str, ModelInput]:
    """``{key: ModelInput}`` for the LibriVox utterances, transcripts as the corpus gives them
    (``<s>``/``</s>`` markers dropped)."""
    out = {}
    with open(os.path.join(LIBRIVOX_DIR, "transcription"), encoding="utf-8") as f:
        for line in f:
            match = re.match(r"^<s>(.*)</s>\s*\((\S+)\)\s*$", line.strip())
            if not match:
                continue
            text, key = match.group(1).strip(), match.group(2)
            audio, rate = sf.read(os.path.join(LIBRIVOX_DIR, f"{key}.wav"), dtype="float32")
            out[key] = ModelInput.from_audio(audio, sample_rate_hz=rate, transcript=text)
    return out


def espeak(text: str, voice: str) -> ModelInput:
    """``text`` spoken by espeak-ng's ``voice`` (e.g. ``en-us``, ``fr``, ``de``), at 16 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "say.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", path, text],
                       check=True, capture_output=True, timeout=60)
        audio, rate = sf.read(path, dtype="float32")
    return ModelInput.from_audio(audio, sample_rate_hz=rate, transcript=text)


def non_speech(transcript: str, seconds: float = 3.0) -> dict[str, ModelInput]:
    """Silence and noise-only clips (seeded), each paired with ``transcript``."""
    n = int(seconds * MODEL_RATE_HZ)
    rng = np.random.default_rng(0)
    white = rng.standard_normal(n) * 0.1
    brown = np.cumsum(rng.standard_normal(n))
    brown = 0.3 * (brown - brown.mean()) / np.abs(brown - brown.mean()).max()
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(n) / MODEL_RATE_HZ)
    clips = {"silence": np.zeros(n), "white_noise": white, "brown_noise": brown, "hum_50hz": hum}
    return {
        name: ModelInput(samples=x.astype(np.float32), transcript=transcript)
        for name, x in clips.items()
    }
