"""Records that cross process boundaries: frozen, keyword-only, slotted dataclasses.

Units are in the names (``duration_s``, ``sample_rate_hz``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from curate.errors import Reason, Stage
from curate.pickling import fast_pickle

__all__ = ["BY_KEY", "BY_SHARD", "Rejection", "Signals", "Utterance"]

# The element types of the keyed PCollections that meet in a Flatten before a GroupByKey (and the
# inputs of a CoGroupByKey, which flattens them): every input declares the same type, so that
# all of them and the Flatten share one coder. Inputs without a type get Beam's generic pickled
# coder while the GroupByKey's input is coerced to a KV coder, and Prism, which re-codes a
# Flatten's inputs to its output coder, then fails (docs/runners.md).
BY_KEY = tuple[str, Any]  # (key, value)
BY_SHARD = tuple[tuple[str, int], Any]  # ((split, shard index), value)


@fast_pickle
@dataclass(frozen=True, kw_only=True, slots=True)
class Utterance:
    """One candidate example as named by a source, before any audio is read.

    ``audio_uri`` is absolute (a local path or any Beam filesystem URI). ``start_s``/``end_s``
    select a segment of the file (Kaldi ``segments``); ``end_s=None`` means to the end.
    ``source_uri`` is the manifest or transcript file that named this utterance.
    ``source_fingerprint`` identifies the audio file's bytes without decoding them
    (:func:`curate.inputs.source_fingerprint`); empty until the build has taken it.
    """

    key: str
    audio_uri: str
    text: str
    speaker: str
    source_uri: str
    start_s: float = 0.0
    end_s: float | None = None
    source_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Utterance:
        return cls(**d)

    def input_sha256(self) -> str:
        """What must match for a build on a base version to carry this input over: sha256 of
        the key, the source fingerprint, the text, the speaker and the segment, not the URIs
        (a corpus moved to another root still matches). Empty without a fingerprint."""
        if not self.source_fingerprint:
            return ""
        fields = [self.key, self.source_fingerprint, self.text, self.speaker, self.start_s,
                  self.end_s]
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """One rejected input: a row of ``rejected.parquet``.

    What a later build on this one needs to decide again without decoding: the input's
    fingerprints (``source_fingerprint``, ``input_sha256``: see :mod:`curate.inputs`), the
    build's ``settings_sha256`` (:mod:`curate.settings`), and the signals measured before the
    input was rejected (``signals``; ``model_signals``: the enabled models' fields), when any were.
    """

    key: str
    source_uri: str
    audio_uri: str
    stage: Stage
    reason: Reason
    detail: str
    source_fingerprint: str = ""
    input_sha256: str = ""
    settings_sha256: str = ""
    signals: Signals | None = None
    model_signals: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row of ``rejected.parquet``: the signal columns are None when not measured."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["stage"] = self.stage.value
        d["reason"] = self.reason.value
        signals, models = d.pop("signals"), d.pop("model_signals")
        d.update(signals.to_dict() if signals is not None else dict.fromkeys(_SIGNAL_COLUMNS))
        d.update(models or {})
        return d

    @classmethod
    def of(cls, utt: Utterance, stage: Stage, reason: Reason, detail: str, **measured: Any
           ) -> Rejection:
        """The rejection of ``utt``; ``measured``: the optional fields above."""
        return cls(
            key=utt.key,
            source_uri=utt.source_uri,
            audio_uri=utt.audio_uri,
            stage=stage,
            reason=reason,
            detail=detail,
            source_fingerprint=utt.source_fingerprint,
            input_sha256=utt.input_sha256(),
            **measured,
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
_SIGNAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Signals))
