"""Carry-over: each input of a build on a base, matched with the base's records of its key,
becomes carried, rejected from recorded signals, or one to process.

An input *matches* its base record when its :meth:`~curate.records.Utterance.input_sha256`
(key, source fingerprint, text, speaker, segment) and the build's settings
(:mod:`curate.settings`) are the base's. Then:

==========================================  ===================================================
base record of the key                      the input
==========================================  ===================================================
an example, matching                        the current filters on its recorded signals: pass,
                                            ``CARRIED`` (its bytes stay in the base's shard);
                                            fail, rejected with the filter's reason, its shard
                                            ``TOUCHED`` (rewritten without it)
a rejection after reading, matching         decided again from what was recorded (see
                                            :func:`decide_again`): still rejected, a carried
                                            rejection; now passing (a loosened bound) or not
                                            decidable, processed
an example, not matching (a changed file,   processed; its shard ``TOUCHED``, and a ``HINT``
text, speaker or segment)                   so that it goes back into that shard if its split
                                            is still the same
none (a new key)                            processed
==========================================  ===================================================

A base example without an input any more is ``REMOVED`` (its shard ``TOUCHED``). Rejections by a
source are not looked at: the sources decide them again every build, without decoding.

Memory stays flat: the inputs and the base's records meet in a ``CoGroupByKey`` by key, so no
worker holds the base's manifest or its key set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.base import BaseExample, BasePlan, BaseRejection, ReadBaseExamples
from curate.base import ReadBaseRejections
from curate.config import BuildConfig
from curate.errors import InputRejected, Reason, stage_of
from curate.features import model_fields
from curate.pickling import fast_pickle
from curate.records import BY_KEY, Rejection, Signals, Utterance

__all__ = [
    "CARRIED",
    "HINTS",
    "REJECTED",
    "REMOVED",
    "TOUCHED",
    "CarriedExample",
    "ClassifyInputs",
    "ShardKey",
    "decide_again",
]

CARRIED = "carried"  # CarriedExample
REJECTED = "rejected"  # Rejection, decided from recorded signals
TOUCHED = "touched"  # ShardKey of a base shard that lost or changed an example
HINTS = "hints"  # (key, ShardKey) of a changed input's base example
REMOVED = "removed"  # key of a base example with no input any more

ShardKey = tuple[str, int]  # (split, shard index)

# Reasons decided by the decoder from the file's bytes alone: the same bytes, the same outcome.
_DECODER_REASONS = frozenset({Reason.AUDIO_EMPTY, Reason.AUDIO_UNDECODABLE,
                              Reason.AUDIO_TRUNCATED, Reason.BAD_SEGMENT})
# Reasons a filter gives from signals (cheap or model) or from the text.
_FILTER_REASONS = frozenset({Reason.EMPTY_TEXT, Reason.TOO_SHORT, Reason.TOO_LONG,
                             Reason.SILENT, Reason.CLIPPED, Reason.LOW_SNR,
                             Reason.SPEAKING_RATE, Reason.LOW_SPEECH_RATIO,
                             Reason.WRONG_LANGUAGE, Reason.ASR_DISAGREEMENT})


@fast_pickle
@dataclass(frozen=True, kw_only=True, slots=True)
class CarriedExample:
    """A base example kept as it is: it stays at ``position`` of base shard ``shard`` unless
    that shard is rewritten. It travels without its manifest row: its shard's manifest file
    holds it (a kept shard's file is kept; a rewritten shard's rows are read from the base's
    file), with the current input's URIs; ``moved``: those differ from the base's (its source
    moved), so its shard's manifest file is written again even when the shard is kept."""

    key: str
    split: str
    shard: int
    position: int
    pcm_sha256: str  # what DedupeAudio matches new audio against
    source_uri: str
    audio_uri: str
    moved: bool = False


def _signals(row: Mapping[str, Any]) -> Signals | None:
    if row.get("pcm_sha256") is None:
        return None
    return Signals.from_dict({name: row[name] for name in Signals.__dataclass_fields__})


def decide_again(text: str, row: Mapping[str, Any], config: BuildConfig
                 ) -> tuple[Reason, str] | None | bool:
    """The current filters applied to what a base recorded of an input (``row``: its manifest
    or ``rejected.parquet`` row), in the order a build applies them: the text, the cheap
    signals, the model signals. ``(reason, detail)`` when they reject it, None when they pass
    it, False when the row lacks a recorded value they need (the input must be processed)."""
    from curate import filters

    try:
        filters.check_text(text, config.filters)
    except InputRejected as e:
        return e.reason, e.detail
    signals = _signals(row)
    if signals is None:
        return False
    try:
        filters.check_signals(signals, config.filters)
    except InputRejected as e:
        return e.reason, e.detail
    if config.signals is None or not config.enabled_models:
        return None
    from curate.models.filters import first_violation
    from curate.models.records import ModelSignals

    recorded = ModelSignals(**(_model_signals(row, config) or {}))  # absent: no rule applies
    return first_violation(recorded, config.signals)


def _model_signals(row: Mapping[str, Any], config: BuildConfig) -> dict[str, Any] | None:
    names = model_fields(config.enabled_models)
    return {n: row.get(n) for n in names} if names else None


def _matches(utt: Utterance, row: Mapping[str, Any], settings_sha256: str) -> bool:
    digest = utt.input_sha256()
    return bool(digest) and row.get("input_sha256") == digest and (
        row.get("settings_sha256") == settings_sha256)


class _ClassifyFn(beam.DoFn):
    """(key, {"input": [Utterance], "example": [BaseExample], "rejection": [BaseRejection]})
    -> an Utterance to process, or the tagged outputs of the module docstring."""

    def __init__(self, config: BuildConfig, settings_sha256: str) -> None:
        self._config = config
        self._settings = settings_sha256

    def setup(self) -> None:
        self._counters = {name: Metrics.counter("curate", f"carry.{name}")
                          for name in ("carried", "rejected", "processed", "removed")}

    def _rejection(self, utt: Utterance, row: Mapping[str, Any], reason: Reason,
                   detail: str) -> beam.pvalue.TaggedOutput:
        self._counters["rejected"].inc()
        Metrics.counter("curate", f"rejected.{reason.value}").inc()
        return beam.pvalue.TaggedOutput(REJECTED, Rejection.of(
            utt, stage_of(reason), reason, detail, settings_sha256=self._settings,
            signals=_signals(row), model_signals=_model_signals(row, self._config)))

    def process(self, element: tuple[str, Mapping[str, Iterable[Any]]]) -> Iterator[Any]:
        key, found = element
        inputs = list(found["input"])
        examples = list(found["example"])
        rejections = list(found["rejection"])
        if len(inputs) > 1 or len(examples) > 1:  # the sources and the base are deduplicated
            raise ValueError(f"key {key!r}: {len(inputs)} inputs, {len(examples)} base examples")
        base = examples[0] if examples else None
        if not inputs:
            if base is not None:
                self._counters["removed"].inc()
                yield beam.pvalue.TaggedOutput(TOUCHED, _shard_of(base))
                yield beam.pvalue.TaggedOutput(REMOVED, key)
            return
        utt = inputs[0]
        if base is not None:
            yield from self._with_example(utt, base)
            return
        for rejection in rejections:
            decided = self._decide_rejection(utt, rejection)
            if decided is not None:
                yield decided
                return
        self._counters["processed"].inc()
        yield utt

    def _with_example(self, utt: Utterance, base: BaseExample) -> Iterator[Any]:
        row = base.row
        if not _matches(utt, row, self._settings):
            self._counters["processed"].inc()
            yield beam.pvalue.TaggedOutput(TOUCHED, _shard_of(base))
            yield beam.pvalue.TaggedOutput(HINTS, (utt.key, _shard_of(base)))
            yield utt
            return
        outcome = decide_again(utt.text, row, self._config)
        if outcome is False:  # not decidable from the record: decode it again
            self._counters["processed"].inc()
            yield beam.pvalue.TaggedOutput(TOUCHED, _shard_of(base))
            yield beam.pvalue.TaggedOutput(HINTS, (utt.key, _shard_of(base)))
            yield utt
            return
        if outcome is not None:
            yield beam.pvalue.TaggedOutput(TOUCHED, _shard_of(base))
            yield self._rejection(utt, row, *outcome)
            return
        self._counters["carried"].inc()
        moved = (row.get("source_uri"), row.get("audio_uri")) != (utt.source_uri, utt.audio_uri)
        yield beam.pvalue.TaggedOutput(CARRIED, CarriedExample(
            key=utt.key, split=base.split, shard=int(row["shard"]),
            position=int(row["position"]), pcm_sha256=str(row["pcm_sha256"]),
            source_uri=utt.source_uri, audio_uri=utt.audio_uri, moved=moved))

    def _decide_rejection(self, utt: Utterance, rejection: BaseRejection
                          ) -> beam.pvalue.TaggedOutput | None:
        """A carried rejection, or None when the input must be processed."""
        row = rejection.row
        if not _matches(utt, row, self._settings):
            return None
        reason = Reason(row["reason"])
        if reason in _DECODER_REASONS:
            if row.get("audio_uri") != utt.audio_uri:  # its detail names the file
                return None
            return self._rejection(utt, row, reason, str(row["detail"]))
        if reason not in _FILTER_REASONS:  # missing or unreadable files, duplicates, failures
            return None
        outcome = decide_again(utt.text, row, self._config)
        if not outcome:  # passes now (a loosened bound), or not decidable
            return None
        return self._rejection(utt, row, *outcome)


def _shard_of(base: BaseExample) -> ShardKey:
    return base.split, int(base.row["shard"])


def _by_key(utt: Utterance) -> tuple[str, Utterance]:
    return utt.key, utt


class _FingerprintFn(beam.DoFn):
    """Utterance -> the same with its source fingerprint (:mod:`curate.inputs`)."""

    def setup(self) -> None:
        from curate.inputs import SourceFingerprints

        self._fingerprints = SourceFingerprints()

    def process(self, utt: Utterance) -> Iterator[Utterance]:
        yield self._fingerprints.fingerprinted(utt)


class ClassifyInputs(beam.PTransform):
    """Utterance -> the inputs to process (main output, Utterance) and the tagged outputs
    ``CARRIED``, ``REJECTED``, ``TOUCHED``, ``HINTS``, ``REMOVED`` (module docstring)."""

    def __init__(self, plan: BasePlan, config: BuildConfig, settings_sha256: str) -> None:
        super().__init__()
        self._plan, self._config, self._settings = plan, config, settings_sha256

    def expand(self, utterances: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        root = utterances.pipeline
        inputs = (
            utterances
            | "Fingerprint" >> beam.ParDo(_FingerprintFn())  # Utterance with its fingerprint
            | "KeyInputs" >> beam.Map(_by_key).with_output_types(BY_KEY)  # (key, Utterance)
        )
        examples = root | "BaseExamples" >> ReadBaseExamples(self._plan)  # (key, BaseExample)
        rejections = root | "BaseRejections" >> ReadBaseRejections(self._plan)
        return (
            {"input": inputs, "example": examples, "rejection": rejections}
            | "ByKey" >> beam.CoGroupByKey()  # (key, {"input": [...], "example": [...], ...})
            | "Classify" >> beam.ParDo(_ClassifyFn(self._config, self._settings)).with_outputs(
                CARRIED, REJECTED, TOUCHED, HINTS, REMOVED, main="to_process")
        )
