"""Records that cross process boundaries: frozen, keyword-only, slotted dataclasses.

Units are in the names (``duration_s``, ``sample_rate_hz``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from curate.errors import Reason, Stage

__all__ = ["Rejection", "Signals", "Utterance"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Utterance:
    """One candidate example as named by a source, before any audio is read.

    ``audio_uri`` is absolute (a local path or any Beam filesystem URI). ``start_s``/``end_s``
    select a segment of the file (Kaldi ``segments``); ``end_s=None`` means to the end.
    ``source_uri`` is the manifest or transcript file that named this utterance.
    """

    key: str
    audio_uri: str
    text: str
    speaker: str
    source_uri: str
    start_s: float = 0.0
    end_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Utterance:
        return cls(**d)


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """One rejected input: a row of ``rejected.parquet``."""

    key: str
    source_uri: str
    audio_uri: str
    stage: Stage
    reason: Reason
    detail: str

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stage"] = self.stage.value
        d["reason"] = self.reason.value
        return d

    @classmethod
    def of(cls, utt: Utterance, stage: Stage, reason: Reason, detail: str) -> Rejection:
        return cls(
            key=utt.key,
            source_uri=utt.source_uri,
            audio_uri=utt.audio_uri,
            stage=stage,
            reason=reason,
            detail=detail,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Signals:
    """Cheap per-utterance signals, computed on the normalised (resampled, downmixed) audio,
    except ``clipping_ratio`` which is measured on the decoded source samples."""

    duration_s: float
    rms_dbfs: float
    peak_dbfs: float
    clipping_ratio: float
    silence_ratio: float
    snr_db: float
    chars_per_s: float
    words_per_s: float
    pcm_sha256: str  # sha256 of the normalised audio as little-endian int16 PCM

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signals:
        return cls(**d)


SIGNAL_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Signals) if f.name != "pcm_sha256"
)
