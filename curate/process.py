"""Per-utterance work: text filters, decode, normalise, signals, signal filters, encode.

All the heavy work of a build happens here, once per utterance, and its result (the serialised
``tf.train.Example``) is staged to a file right away: only a small ``StagedExample`` (names,
signals, and where the bytes are) travels through the rest of the pipeline. That keeps audio bytes
out of Beam's shuffle entirely, so memory does not grow with the corpus and the runner does not
move every byte (see ``curate.shards`` for where the staged bytes are read back, once).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from curate.config import AudioConfig, FilterConfig
from curate.errors import InputRejected, Reason, stage_of
from curate.records import Rejection, Signals, Utterance

__all__ = [
    "REJECTED",
    "ProcessUtterances",
    "ProcessedUtterance",
    "StagedExample",
    "process_utterance",
]

REJECTED = "rejected"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class StagedExample:
    """An accepted utterance whose serialised Example waits in a staging file."""

    key: str
    speaker: str
    text: str
    source_uri: str
    audio_uri: str
    sample_rate_hz: int
    num_samples: int
    channels: int
    audio_sha256: str  # of the encoded audio bytes in the example
    signals: Signals
    staged_path: str
    offset: int
    length: int

    def manifest_row(self) -> dict[str, Any]:
        row = {
            "key": self.key,
            "speaker": self.speaker,
            "text": self.text,
            "duration_s": self.signals.duration_s,
            "num_samples": self.num_samples,
            "sample_rate_hz": self.sample_rate_hz,
            "audio_sha256": self.audio_sha256,
            "source_uri": self.source_uri,
            "audio_uri": self.audio_uri,
        }
        row.update(self.signals.to_dict())
        return row


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessedUtterance:
    """What :func:`process_utterance` made of one accepted utterance: its serialised Example
    and the small facts about it that travel on (see :meth:`staged`)."""

    utterance: Utterance
    record: bytes  # the serialised tf.train.Example
    sample_rate_hz: int
    num_samples: int
    channels: int
    audio_sha256: str
    signals: Signals

    def staged(self, path: str, offset: int) -> StagedExample:
        utt = self.utterance
        return StagedExample(
            key=utt.key,
            speaker=utt.speaker,
            text=utt.text,
            source_uri=utt.source_uri,
            audio_uri=utt.audio_uri,
            sample_rate_hz=self.sample_rate_hz,
            num_samples=self.num_samples,
            channels=self.channels,
            audio_sha256=self.audio_sha256,
            signals=self.signals,
            staged_path=path,
            offset=offset,
            length=len(self.record),
        )


def process_utterance(
    utt: Utterance, audio_cfg: AudioConfig, filter_cfg: FilterConfig
) -> ProcessedUtterance:
    """All the per-utterance work of a build, with no Beam: check the text, read and decode the
    audio, normalise it, quantise it once, measure it, filter it, encode it and serialise the
    Example. Raises :class:`InputRejected` with the reason. (The benchmark floor calls this
    too, so the pipeline and the floor always do the same work.)"""
    from curate import audio, filters
    from curate.features import serialize_example
    from curate.signals import compute_signals

    filters.check_text(utt.text, filter_cfg)
    try:
        decoded = audio.decode(
            audio.read_bytes(utt.audio_uri), uri=utt.audio_uri, start_s=utt.start_s, end_s=utt.end_s
        )
    except InputRejected:
        raise
    except Exception as e:  # a decoder failure on one file must not stop the build
        raise InputRejected(Reason.AUDIO_UNDECODABLE, f"{type(e).__name__}: {e}") from e
    rate = audio_cfg.sample_rate_hz
    samples = audio.normalise(decoded, sample_rate_hz=rate, channels=audio_cfg.channels)
    pcm = audio.to_pcm16(samples)  # quantised once: hashed, measured and encoded
    signals = compute_signals(
        source=decoded, samples=samples, sample_rate_hz=rate, text=utt.text, pcm16=pcm
    )
    filters.check_signals(signals, filter_cfg)
    encoded = audio.encode(pcm, rate, audio_cfg.codec)
    record = serialize_example(
        key=utt.key,
        audio=encoded,
        text=utt.text,
        speaker=utt.speaker,
        sample_rate_hz=rate,
        num_samples=samples.shape[0],
        channels=samples.shape[1],
        signals=signals,
    )
    return ProcessedUtterance(
        utterance=utt,
        record=record,
        sample_rate_hz=rate,
        num_samples=int(samples.shape[0]),
        channels=int(samples.shape[1]),
        audio_sha256=hashlib.sha256(encoded).hexdigest(),
        signals=signals,
    )


class _ProcessFn(beam.DoFn):
    """Utterance -> StagedExample, or a Rejection on the REJECTED output."""

    def __init__(self, audio: AudioConfig, filters: FilterConfig, staging_dir: str) -> None:
        self._audio = audio
        self._filters = filters
        self._staging_dir = staging_dir
        self._accepted = Metrics.counter("curate", "processed.accepted")
        self._out: Any = None

    def start_bundle(self) -> None:
        self._out, self._path, self._offset = None, "", 0

    def _stage(self, record: bytes) -> tuple[str, int]:
        if self._out is None:
            self._path = f"{self._staging_dir}/{uuid.uuid4().hex}.records"
            self._out = FileSystems.create(
                self._path, compression_type=CompressionTypes.UNCOMPRESSED
            )
            self._offset = 0
        offset = self._offset
        self._out.write(record)
        self._offset += len(record)
        return self._path, offset

    def finish_bundle(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def process(self, utt: Utterance):
        try:
            done = process_utterance(utt, self._audio, self._filters)
        except InputRejected as e:
            Metrics.counter("curate", f"rejected.{e.reason.value}").inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection.of(utt, stage_of(e.reason), e.reason, e.detail)
            )
            return
        path, offset = self._stage(done.record)
        self._accepted.inc()
        yield done.staged(path, offset)


class ProcessUtterances(beam.PTransform):
    """Decode, normalise, measure, filter and encode each utterance; stage its Example.

    Returns a tagged result: main output ``StagedExample``, ``REJECTED`` output ``Rejection``.
    """

    def __init__(self, audio: AudioConfig, filters: FilterConfig, staging_dir: str) -> None:
        super().__init__()
        self._fn = _ProcessFn(audio, filters, staging_dir)

    def expand(self, utterances):
        # Utterance -> StagedExample | Rejection
        return utterances | "Process" >> beam.ParDo(self._fn).with_outputs(REJECTED, main="examples")
