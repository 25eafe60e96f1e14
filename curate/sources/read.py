"""``ReadSources``: every configured source, as utterances plus a dead-letter output.

Every input a source names ends up as exactly one :class:`Utterance` (main output) or one
:class:`Rejection` (output ``REJECTED``, stage ``source``): ``utterances + rejected == read``.
What one input is depends on the layout; see :mod:`curate.sources.librispeech`,
:mod:`curate.sources.manifests` and :mod:`curate.sources.kaldi`.

Keys are unique across all sources: of the utterances sharing a key, the one with the smallest
``(source_uri, audio_uri, start_s, end_s, text, speaker)`` is kept and the others are rejected as
``duplicate_key`` naming the kept one, whatever order bundles arrive in.

Rejections are also counted in the Beam metrics counters ``curate/rejected.<reason>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.config import SourceConfig, SourceKind
from curate.errors import ConfigError, InputRejected, Reason, Stage
from curate.records import Rejection, Utterance
from curate.sources.common import Outcome, duplicate_of
from curate.sources.kaldi import KaldiLayout, ReadKaldiDir
from curate.sources.librispeech import LibriSpeechLayout, ReadLibriSpeech
from curate.sources.manifests import JsonlLayout, ReadJsonlManifest, ReadTableManifest, TableLayout

__all__ = ["REJECTED", "UTTERANCES", "ReadSources", "check_sources"]

UTTERANCES = "utterances"  # main output: Utterance
REJECTED = "rejected"  # tagged output: Rejection (stage "source")

# kind -> (inspect the source and describe its layout, the transform reading that layout)
_READERS: dict[SourceKind, tuple[Callable[[SourceConfig, int], Any], type[beam.PTransform]]] = {
    SourceKind.LIBRISPEECH: (LibriSpeechLayout.from_config, ReadLibriSpeech),
    SourceKind.JSONL: (JsonlLayout.from_config, ReadJsonlManifest),
    SourceKind.TSV: (TableLayout.from_config, ReadTableManifest),
    SourceKind.KALDI: (KaldiLayout.from_config, ReadKaldiDir),
}


def check_sources(sources: Sequence[SourceConfig]) -> None:
    """Raise :class:`ConfigError` for a source that cannot be read at all.

    Cheap checks only (a file exists, a header row, the first transcript of a tree), so a broken
    source fails before the pipeline runs. :class:`ReadSources` runs them when constructed.
    """
    _readers(sources)


def _readers(sources: Sequence[SourceConfig]) -> list[beam.PTransform]:
    if not sources:
        raise ConfigError("no sources to read")
    readers = []
    for index, source in enumerate(sources):
        describe, reader = _READERS[source.kind]
        readers.append(reader(describe(source, index)))
    return readers


class ReadSources(beam.PTransform):
    """Reads all sources: main output ``UTTERANCES`` (:class:`Utterance`), ``REJECTED``
    (:class:`Rejection`).

    Apply to a pipeline; the result is a tagged output tuple::

        read = p | ReadSources(config.sources)
        utterances, rejected = read          # or read[UTTERANCES], read[REJECTED]

    Construction inspects the sources (see :func:`check_sources`) and raises
    :class:`~curate.errors.ConfigError` naming the source index and path.
    """

    def __init__(self, sources: Sequence[SourceConfig], *,
                 progress_dir: str | None = None) -> None:
        super().__init__()
        self._readers = _readers(sources)
        self._progress_dir = progress_dir  # a build directory: count the inputs as listed

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        outcomes = [
            pbegin | f"Read[{index}]" >> reader for index, reader in enumerate(self._readers)
        ]  # Utterance | Rejection
        if self._progress_dir is not None:  # each as it is listed, before the key dedupe
            from curate.build_progress import CountStep, Step

            for index, listed in enumerate(outcomes):
                _ = listed | f"CountListed[{index}]" >> CountStep(self._progress_dir, Step.LISTED)
        parts = (
            outcomes
            | "FlattenSources" >> beam.Flatten()
            | "SplitOutcomes" >> beam.Partition(_outcome_kind, 2)
        )  # [Utterance], [Rejection]
        deduped = (
            parts[0]
            | "KeyByKey" >> beam.Map(_by_key)  # (key, Utterance)
            | "GroupByKey" >> beam.GroupByKey()  # (key, [Utterance])
            | "KeepFirst" >> beam.FlatMap(_keep_first)  # Utterance | Rejection
        )
        return (
            (deduped, parts[1])
            | "FlattenOutcomes" >> beam.Flatten()
            | "Route" >> beam.ParDo(_RouteFn()).with_outputs(REJECTED, main=UTTERANCES)
        )


def _by_key(utt: Utterance) -> tuple[str, Utterance]:
    return utt.key, utt


def _outcome_kind(outcome: Outcome, _num_partitions: int) -> int:
    return 0 if isinstance(outcome, Utterance) else 1


def _order(utt: Utterance) -> tuple[Any, ...]:
    end = math.inf if utt.end_s is None else utt.end_s
    return (utt.source_uri, utt.audio_uri, utt.start_s, end, utt.text, utt.speaker)


def _keep_first(element: tuple[str, Iterable[Utterance]]) -> Iterator[Outcome]:
    key, utterances = element
    kept, *others = sorted(utterances, key=_order)
    yield kept
    for other in others:
        error: InputRejected = duplicate_of(key, f"{kept.source_uri} ({kept.audio_uri})")
        yield Rejection.of(other, Stage.SOURCE, error.reason, error.detail)


class _RouteFn(beam.DoFn):
    """Utterances to the main output; rejections to ``REJECTED``, counted by reason."""

    def setup(self) -> None:
        self._counters = {r: Metrics.counter("curate", "rejected." + r.value) for r in Reason}

    def process(self, outcome: Outcome) -> Iterator[Any]:
        if isinstance(outcome, Utterance):
            yield outcome
            return
        self._counters[outcome.reason].inc()
        yield beam.pvalue.TaggedOutput(REJECTED, outcome)
