"""Errors and proposed reason codes of the model layer.

The reason codes are plain strings until they move into :class:`curate.errors.Reason`; their
values are what ``rejected.parquet`` will store, so they are stable.
"""

from __future__ import annotations

from curate.errors import ConfigError, CurateError

__all__ = [
    "ASR_DISAGREEMENT",
    "LOW_SPEECH_RATIO",
    "MODEL_FAILED",
    "ModelError",
    "ModelLoadError",
    "REASONS",
    "WRONG_LANGUAGE",
]

# Filter stage: a model-based signal is outside its configured bound.
LOW_SPEECH_RATIO = "low_speech_ratio"  # vad_speech_ratio < signals.vad.min_speech_ratio
WRONG_LANGUAGE = "wrong_language"  # transcript language not in signals.langid.languages
ASR_DISAGREEMENT = "asr_disagreement"  # asr_wer > max_wer or asr_cer > max_cer
# Model stage: a model raised on this one input (the detail names the model and the error).
MODEL_FAILED = "model_failed"

REASONS: tuple[str, ...] = (LOW_SPEECH_RATIO, WRONG_LANGUAGE, ASR_DISAGREEMENT, MODEL_FAILED)


class ModelError(CurateError):
    """Base class of the model layer's own errors."""


class ModelLoadError(ModelError, ConfigError):
    """An enabled model cannot be loaded: raised before any data is processed. The message
    names the config field (``signals.asr.model_path``) and what is wrong with it."""
