"""Errors of the model layer. Its reason codes are members of :class:`curate.errors.Reason`
(``LOW_SPEECH_RATIO``, ``WRONG_LANGUAGE``, ``ASR_DISAGREEMENT``, ``MODEL_FAILED``) like every
other stage's."""

from __future__ import annotations

from curate.errors import ConfigError, CurateError

__all__ = ["ModelError", "ModelLoadError"]


class ModelError(CurateError):
    """Base class of the model layer's own errors."""


class ModelLoadError(ModelError, ConfigError):
    """An enabled model cannot be loaded: raised before any data is processed. The message
    names the config field (``signals.asr.model_path``) and what is wrong with it."""
