"""Errors and reason codes for the curation library.

Every failure of one input becomes a :class:`Rejection` row carrying a :class:`Reason`; failures
of the build itself (bad config, bad paths given on the command line) are :class:`CurateError`.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "AccountingError",
    "ConfigError",
    "CurateError",
    "InconsistentVersionError",
    "InputRejected",
    "MissingDependencyError",
    "Reason",
    "Stage",
    "UsageError",
    "stage_of",
]


class Stage(str, enum.Enum):
    """Where in the flow an input was rejected."""

    SOURCE = "source"
    DECODE = "decode"
    FILTER = "filter"
    MODEL = "model"  # a model-based signal model raised on this input
    DEDUPE = "dedupe"


class Reason(str, enum.Enum):
    """Machine-readable reason codes for rejected inputs (stable: they are stored in parquet)."""

    # Source stage: the input could not be turned into an utterance.
    MALFORMED_ENTRY = "malformed_entry"  # a manifest line / row that cannot be parsed
    PATH_OUTSIDE_ROOT = "path_outside_root"  # an audio path escaping the corpus root
    UNSUPPORTED_PATH = "unsupported_path"  # e.g. a Kaldi pipe command in wav.scp
    MISSING_TRANSCRIPT = "missing_transcript"  # audio file with no transcript entry
    MISSING_AUDIO = "missing_audio"  # transcript entry whose audio file does not exist
    TEXT_NOT_UTF8 = "text_not_utf8"
    DUPLICATE_KEY = "duplicate_key"  # two inputs with the same key: the second is rejected
    # Decode stage.
    AUDIO_EMPTY = "audio_empty"  # zero-byte file
    AUDIO_UNREADABLE = "audio_unreadable"  # I/O error reading the file
    AUDIO_UNDECODABLE = "audio_undecodable"  # not audio, corrupt header, unknown format
    AUDIO_TRUNCATED = "audio_truncated"  # fewer frames than the header declares
    AUDIO_NOT_FINITE = "audio_not_finite"  # float samples that are NaN or infinite
    AUDIO_TOO_LARGE = "audio_too_large"  # a file larger than curate.audio.MAX_AUDIO_BYTES
    BAD_SEGMENT = "bad_segment"  # segment times outside the recording
    # Filter stage.
    EMPTY_TEXT = "empty_text"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SILENT = "silent"
    CLIPPED = "clipped"
    LOW_SNR = "low_snr"
    SPEAKING_RATE = "speaking_rate"  # characters per second outside the configured range
    # Model signals (curate.models): filters on model-based signals, and a model failure.
    LOW_SPEECH_RATIO = "low_speech_ratio"
    WRONG_LANGUAGE = "wrong_language"
    ASR_DISAGREEMENT = "asr_disagreement"
    LOW_BANDWIDTH = "low_bandwidth"  # effective bandwidth below signals.bandwidth.min_bandwidth_hz
    LOW_QUALITY = "low_quality"  # DNSMOS OVRL below signals.dnsmos.min_dnsmos_ovrl
    MODEL_FAILED = "model_failed"
    # Dedupe stage.
    DUPLICATE_AUDIO = "duplicate_audio"
    NEAR_DUPLICATE_AUDIO = "near_duplicate_audio"  # the same recording re-encoded, trimmed...


_STAGES = {
    Reason.MALFORMED_ENTRY: Stage.SOURCE,
    Reason.PATH_OUTSIDE_ROOT: Stage.SOURCE,
    Reason.UNSUPPORTED_PATH: Stage.SOURCE,
    Reason.MISSING_TRANSCRIPT: Stage.SOURCE,
    Reason.TEXT_NOT_UTF8: Stage.SOURCE,
    Reason.DUPLICATE_KEY: Stage.SOURCE,
    Reason.EMPTY_TEXT: Stage.FILTER,
    Reason.TOO_SHORT: Stage.FILTER,
    Reason.TOO_LONG: Stage.FILTER,
    Reason.SILENT: Stage.FILTER,
    Reason.CLIPPED: Stage.FILTER,
    Reason.LOW_SNR: Stage.FILTER,
    Reason.SPEAKING_RATE: Stage.FILTER,
    Reason.LOW_SPEECH_RATIO: Stage.FILTER,
    Reason.WRONG_LANGUAGE: Stage.FILTER,
    Reason.ASR_DISAGREEMENT: Stage.FILTER,
    Reason.LOW_BANDWIDTH: Stage.FILTER,
    Reason.LOW_QUALITY: Stage.FILTER,
    Reason.MODEL_FAILED: Stage.MODEL,
    Reason.DUPLICATE_AUDIO: Stage.DEDUPE,
    Reason.NEAR_DUPLICATE_AUDIO: Stage.DEDUPE,
}


def stage_of(reason: Reason) -> Stage:
    """The stage that normally rejects ``reason``; audio reasons (and a missing file found when
    it is opened) belong to the decode stage."""
    return _STAGES.get(reason, Stage.DECODE)


class CurateError(Exception):
    """Base class for every error this library raises on purpose."""

    exit_code = 1


class UsageError(CurateError):
    """A user mistake on the command line: bad path, bad option."""

    exit_code = 2


class MissingDependencyError(UsageError):
    """An optional library a command needs (one of the extras, :mod:`curate.extras`) is not
    installed; the message names the extra."""


class ConfigError(UsageError):
    """A build config that does not validate; the message names the field."""


class AccountingError(CurateError):
    """A build lost or double-counted inputs: ``accepted + rejected != read``. A bug, never a
    user's mistake; the build stops before it writes ``dataset_info.json``."""

    def __init__(self, *, read: int, accepted: int, rejected: int, carried: int | None = None,
                 processed: int | None = None, source_rejected: int | None = None) -> None:
        if carried is None:
            message = (f"inputs do not add up: accepted {accepted} + rejected {rejected} = "
                       f"{accepted + rejected}, but {read} were read")
        else:
            message = (f"inputs do not add up: carried {carried} + processed {processed} + "
                       f"rejected by their source {source_rejected} = "
                       f"{carried + (processed or 0) + (source_rejected or 0)}, but {read} "
                       "were read")
        super().__init__(message)
        self.read, self.accepted, self.rejected = read, accepted, rejected


class InconsistentVersionError(CurateError):
    """A version's files disagree with its ``dataset_info.json`` (a shard holds other records
    than its manifest lists): a bug or an edited version, never a user's mistake."""


class InputRejected(CurateError):
    """One input cannot be used; carries the reason code that goes into ``rejected.parquet``,
    and what was measured of the input before it was rejected (:meth:`measured`), which
    ``rejected.parquet`` records too."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.signals: Any = None  # curate.records.Signals
        self.model_signals: dict[str, Any] | None = None  # the enabled models' fields

    def measured(self, signals: Any = None,
                 model_signals: dict[str, Any] | None = None) -> InputRejected:
        """Record the signals measured before this rejection; returns the error itself."""
        self.signals = signals
        self.model_signals = model_signals
        return self
