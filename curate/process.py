"""Per-utterance work: text filters, decode, normalise, signals, signal filters, encode.

All the heavy work of a build happens here, once per utterance, and its result (the serialised
``tf.train.Example``) is staged to a file right away: only a small ``StagedExample`` (names,
signals, and where the bytes are) travels through the rest of the pipeline. That keeps audio bytes
out of Beam's shuffle entirely, so memory does not grow with the corpus and the runner does not
move every byte (see ``curate.shards`` for where the staged bytes are read back, once).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from curate.config import AudioConfig, FilterConfig
from curate.errors import InputRejected, Reason, stage_of
from curate.fsio import join, open_write
from curate.layout import staged_records_file
from curate.records import Rejection, Signals, Utterance

if TYPE_CHECKING:
    from curate.fingerprint import Fingerprint
    from curate.models.config import ModelSignalsConfig
    from curate.models.records import ModelSignals

__all__ = [
    "REJECTED",
    "ProcessUtterances",
    "PreparedUtterance",
    "ProcessedUtterance",
    "StagedExample",
    "finish_utterance",
    "prepare_utterance",
    "process_utterance",
]

REJECTED = "rejected"


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
    model_signals: dict[str, Any] | None = None  # the enabled models' fields, when any
    # What a later build on this one matches (curate.inputs, curate.settings):
    source_fingerprint: str = ""
    input_sha256: str = ""
    settings_sha256: str = ""
    example_sha256: str = ""  # of the serialised Example
    start_s: float = 0.0
    end_s: float | None = None
    fingerprint: Fingerprint | None = None  # with signals.near_duplicates on (~250 B per s)

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
            "start_s": self.start_s,
            "end_s": self.end_s,
            "source_fingerprint": self.source_fingerprint,
            "input_sha256": self.input_sha256,
            "settings_sha256": self.settings_sha256,
            "example_sha256": self.example_sha256,
            "record_bytes": self.length,
        }
        row.update(self.signals.to_dict())
        row.update(self.model_signals or {})
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
    model_signals: dict[str, Any] | None = None
    fingerprint: Fingerprint | None = None

    def staged(self, path: str, offset: int, settings_sha256: str = "") -> StagedExample:
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
            model_signals=self.model_signals,
            source_fingerprint=utt.source_fingerprint,
            input_sha256=utt.input_sha256(),
            settings_sha256=settings_sha256,
            example_sha256=hashlib.sha256(self.record).hexdigest(),
            start_s=utt.start_s,
            end_s=utt.end_s,
            fingerprint=self.fingerprint,
        )


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class PreparedUtterance:
    """An utterance decoded, normalised, measured and past the cheap filters: what the models
    (when enabled) look at before :func:`finish_utterance` encodes it."""

    utterance: Utterance
    decoded: Any  # curate.audio.DecodedAudio, the source samples (for clipping after a trim)
    samples: np.ndarray  # normalised: float32 (frames, channels) at the configured rate
    pcm: np.ndarray  # the same, quantised to int16 once
    signals: Signals


def prepare_utterance(
    utt: Utterance, audio_cfg: AudioConfig, filter_cfg: FilterConfig, *,
    data: bytes | None = None,
) -> PreparedUtterance:
    """Check the text, read and decode the audio, normalise it, quantise it once, measure it and
    apply the cheap filters. Raises :class:`InputRejected` with the reason. ``data``: the
    audio file's bytes when they were read already (:meth:`SourceFingerprints.read
    <curate.inputs.SourceFingerprints.read>`), else the file is opened."""
    from curate import audio, filters
    from curate.signals import compute_signals

    filters.check_text(utt.text, filter_cfg)
    Metrics.counter("curate", "audio.decoded").inc()  # a build on a base counts what it decodes
    opened = (audio.open_audio(utt.audio_uri) if data is None  # the header, then the range
              else contextlib.nullcontext(io.BytesIO(data)))
    try:
        with opened as f:
            decoded = audio.decode(f, uri=utt.audio_uri, start_s=utt.start_s, end_s=utt.end_s,
                                   max_duration_s=filter_cfg.max_duration_s)
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
    try:
        filters.check_signals(signals, filter_cfg)
    except InputRejected as e:  # recorded: a later build may apply other bounds to them
        raise e.measured(signals)
    return PreparedUtterance(utterance=utt, decoded=decoded, samples=samples, pcm=pcm,
                             signals=signals)


def finish_utterance(
    prep: PreparedUtterance,
    audio_cfg: AudioConfig,
    *,
    filter_cfg: FilterConfig | None = None,
    model_config: ModelSignalsConfig | None = None,  # when models ran
    model_signals: ModelSignals | None = None,
) -> ProcessedUtterance:
    """Apply the model-signal filters (and the optional VAD trim), encode the audio and
    serialise the Example. Raises :class:`InputRejected`."""
    from curate import audio, filters
    from curate.features import model_fields, serialize_example

    utt, rate = prep.utterance, audio_cfg.sample_rate_hz
    samples, pcm, signals = prep.samples, prep.pcm, prep.signals
    extra = None
    if model_config is not None and model_signals is not None:
        from curate.models.filters import first_violation

        full = model_signals.to_dict()
        extra = {name: full[name] for name in model_fields(model_config.enabled)}
        violation = first_violation(model_signals, model_config)
        if violation is not None:
            raise InputRejected(*violation).measured(signals, extra)
        margin = model_config.vad.trim_margin_s if model_config.vad.enabled else None
        if margin is not None:
            from curate.models.vad import trim_bounds
            from curate.signals import compute_signals

            start, end = trim_bounds(samples.shape[0], rate, model_signals, margin)
            if (start, end) != (0, samples.shape[0]):  # measured and filtered again, trimmed
                samples, pcm = samples[start:end], pcm[start:end]
                signals = compute_signals(source=prep.decoded, samples=samples,
                                          sample_rate_hz=rate, text=utt.text, pcm16=pcm)
                if filter_cfg is not None:
                    try:
                        filters.check_signals(signals, filter_cfg)
                    except InputRejected as e:
                        raise e.measured(signals, extra)
    fp = None
    if model_config is not None and model_config.near_duplicates.enabled:
        from curate.fingerprint import fingerprint
        from curate.models.records import ModelInput

        fp = fingerprint(ModelInput.from_audio(samples, sample_rate_hz=rate,
                                               transcript="").samples)
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
        model_signals=extra,
    )
    return ProcessedUtterance(
        utterance=utt,
        record=record,
        sample_rate_hz=rate,
        num_samples=int(samples.shape[0]),
        channels=int(samples.shape[1]),
        audio_sha256=hashlib.sha256(encoded).hexdigest(),
        signals=signals,
        model_signals=extra,
        fingerprint=fp,
    )


def process_utterance(
    utt: Utterance, audio_cfg: AudioConfig, filter_cfg: FilterConfig, *,
    data: bytes | None = None,
) -> ProcessedUtterance:
    """All the per-utterance work of a build without models, with no Beam: check the text, read
    and decode the audio, normalise it, quantise it once, measure it, filter it, encode it and
    serialise the Example. Raises :class:`InputRejected` with the reason. (The benchmark floor
    calls this too, so the pipeline and the floor always do the same work.) ``data``: as
    :func:`prepare_utterance` takes it."""
    return finish_utterance(prepare_utterance(utt, audio_cfg, filter_cfg, data=data),
                            audio_cfg)


def _rejected(utt: Utterance, e: InputRejected, settings_sha256: str) -> beam.pvalue.TaggedOutput:
    Metrics.counter("curate", f"rejected.{e.reason.value}").inc()
    rejection = Rejection.of(utt, stage_of(e.reason), e.reason, e.detail,
                             settings_sha256=settings_sha256, signals=e.signals,
                             model_signals=e.model_signals)
    return beam.pvalue.TaggedOutput(REJECTED, rejection)


class _FingerprintingFn(beam.DoFn):
    """Base of the DoFns that start an utterance's work: each input gets its source
    fingerprint first (:mod:`curate.inputs`), unless a build on a base took it already."""

    def setup(self) -> None:
        from curate.inputs import SourceFingerprints

        self._fingerprints = SourceFingerprints()


class _StagingFn(_FingerprintingFn):
    """Base of the DoFns that end an utterance's work: stages each Example in a per-bundle file
    of the build directory's staging area."""

    def __init__(self, output_dir: str, settings_sha256: str) -> None:
        self._output_dir = output_dir
        self._settings = settings_sha256
        self._accepted = Metrics.counter("curate", "processed.accepted")
        self._out: Any = None

    def start_bundle(self) -> None:
        self._out, self._path, self._offset = None, "", 0

    def _stage(self, done: ProcessedUtterance) -> StagedExample:
        if self._out is None:
            self._path = join(self._output_dir, staged_records_file(uuid.uuid4().hex))
            self._out = open_write(self._path)
            self._offset = 0
        offset = self._offset
        self._out.write(done.record)
        self._offset += len(done.record)
        self._accepted.inc()
        return done.staged(self._path, offset, self._settings)

    def finish_bundle(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class _ProcessFn(_StagingFn):
    """Utterance -> StagedExample, or a Rejection on the REJECTED output (no models)."""

    def __init__(self, audio: AudioConfig, filters: FilterConfig, output_dir: str,
                 settings_sha256: str) -> None:
        super().__init__(output_dir, settings_sha256)
        self._audio, self._filters = audio, filters

    def process(self, utt: Utterance):
        utt, data = self._fingerprints.read(utt)  # the file read once: hashed, then decoded
        try:
            done = process_utterance(utt, self._audio, self._filters, data=data)
        except InputRejected as e:
            yield _rejected(utt, e, self._settings)
            return
        yield self._stage(done)


class _PrepareFn(_FingerprintingFn):
    """Utterance -> (PreparedUtterance, ModelInput) for the models, or a Rejection."""

    def __init__(self, audio: AudioConfig, filters: FilterConfig, settings_sha256: str) -> None:
        self._audio, self._filters, self._settings = audio, filters, settings_sha256

    def process(self, utt: Utterance):
        from curate.models.records import ModelInput

        utt, data = self._fingerprints.read(utt)
        try:
            prep = prepare_utterance(utt, self._audio, self._filters, data=data)
        except InputRejected as e:
            yield _rejected(utt, e, self._settings)
            return
        yield prep, ModelInput.from_audio(
            prep.samples, sample_rate_hz=self._audio.sample_rate_hz, transcript=utt.text
        )


class _FinishFn(_StagingFn):
    """(PreparedUtterance, ModelSignals) -> StagedExample, or a Rejection."""

    def __init__(self, audio: AudioConfig, filters: FilterConfig,
                 model_config: ModelSignalsConfig, output_dir: str, settings_sha256: str) -> None:
        super().__init__(output_dir, settings_sha256)
        self._audio, self._filters, self._model_config = audio, filters, model_config

    def process(self, element):
        prep, model_signals = element
        try:
            done = finish_utterance(prep, self._audio, filter_cfg=self._filters,
                                    model_config=self._model_config,
                                    model_signals=model_signals)
        except InputRejected as e:
            yield _rejected(prep.utterance, e, self._settings)
            return
        yield self._stage(done)


def _model_failure(element: tuple[PreparedUtterance, Reason, str], settings_sha256: str
                   ) -> Rejection:
    prep, reason, detail = element
    Metrics.counter("curate", f"rejected.{reason.value}").inc()
    return Rejection.of(prep.utterance, stage_of(reason), reason, detail,
                        settings_sha256=settings_sha256, signals=prep.signals)


class ProcessUtterances(beam.PTransform):
    """Decode, normalise, measure, filter and encode each utterance; stage its Example.
    ``settings_sha256`` (:mod:`curate.settings`) is recorded with every example and rejection.

    With model signals enabled, the models run between the cheap filters and the encoder,
    fused in the same stage (the decoded audio never crosses a shuffle). Returns
    ``(examples, rejections, calls)``: ``StagedExample``, ``Rejection`` and ``(model, inputs
    sent to it)`` PCollections (``calls`` is None without models).
    """

    def __init__(self, audio: AudioConfig, filters: FilterConfig, output_dir: str,
                 model_config: ModelSignalsConfig | None = None,
                 settings_sha256: str = "") -> None:
        super().__init__()
        self._audio, self._filters, self._output = audio, filters, output_dir
        self._settings = settings_sha256
        enabled = model_config is not None and model_config.any_enabled
        self._model_config = model_config if enabled else None

    def expand(self, utterances):
        if self._model_config is None:
            out = utterances | "Process" >> beam.ParDo(
                _ProcessFn(self._audio, self._filters, self._output, self._settings)
            ).with_outputs(REJECTED, main="examples")  # StagedExample | Rejection
            return out.examples, out[REJECTED], None
        from curate.models.transform import CALLS, FAILED, SIGNALS, ComputeModelSignals

        prepared = utterances | "Prepare" >> beam.ParDo(
            _PrepareFn(self._audio, self._filters, self._settings)
        ).with_outputs(REJECTED, main="prepared")  # (PreparedUtterance, ModelInput) | Rejection
        computed = prepared.prepared | "ModelSignals" >> ComputeModelSignals(self._model_config)
        finished = computed[SIGNALS] | "Finish" >> beam.ParDo(  # (prepared, ModelSignals)
            _FinishFn(self._audio, self._filters, self._model_config, self._output,
                      self._settings)
        ).with_outputs(REJECTED, main="examples")
        failed = computed[FAILED] | "ModelFailed" >> beam.Map(_model_failure, self._settings)
        rejections = (
            (prepared[REJECTED], finished[REJECTED], failed) | "Rejections" >> beam.Flatten()
        )
        return finished.examples, rejections, computed[CALLS]
