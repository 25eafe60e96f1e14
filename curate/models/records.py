"""What goes into the models and what comes out: frozen, keyword-only, slotted dataclasses.

Every model works on :class:`ModelInput` (16 kHz mono float32 and the reference transcript) and
contributes some fields of :class:`ModelSignals`. Sample positions are at 16 kHz
(:data:`MODEL_RATE_HZ`), whatever the rate of the dataset's audio.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MODEL_RATE_HZ",
    "MODEL_SIGNAL_FIELDS",
    "AsrResult",
    "BandwidthResult",
    "DnsmosResult",
    "LangIdResult",
    "ModelFailure",
    "ModelInfo",
    "ModelInput",
    "ModelSignals",
    "VadResult",
]

MODEL_RATE_HZ = 16000


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ModelInput:
    """One utterance as the models see it: ``samples`` is 1-D float32 at 16 kHz in [-1, 1].

    >>> x = ModelInput.from_audio(np.zeros((8000, 2), np.float32), sample_rate_hz=8000,
    ...                           transcript="hello")
    >>> x.samples.shape, x.samples.dtype.name, x.duration_s
    ((16000,), 'float32', 1.0)
    """

    samples: np.ndarray
    transcript: str

    def __post_init__(self) -> None:
        s = self.samples
        if not isinstance(s, np.ndarray) or s.ndim != 1 or s.dtype != np.float32:
            what = f"{s.dtype}{list(s.shape)}" if isinstance(s, np.ndarray) else type(s).__name__
            raise ValueError(f"ModelInput.samples must be 1-D float32 at 16 kHz, got {what}")

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / MODEL_RATE_HZ

    @classmethod
    def from_audio(cls, samples: np.ndarray, *, sample_rate_hz: int, transcript: str) -> ModelInput:
        """From audio of any rate, shaped ``(n,)`` or ``(n, channels)``: downmixed to mono and
        resampled to 16 kHz as the build's audio is (:func:`curate.audio.downmix`,
        :func:`curate.audio.resample`)."""
        from curate.audio import downmix, resample

        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        elif x.ndim != 2:
            raise ValueError(f"audio must be (n,) or (n, channels), got shape {list(x.shape)}")
        if x.shape[1] != 1:
            x = downmix(x)
        if sample_rate_hz != MODEL_RATE_HZ and x.shape[0]:
            x = resample(x, sample_rate_hz, MODEL_RATE_HZ)
        return cls(samples=np.ascontiguousarray(x[:, 0]), transcript=transcript)


@dataclass(frozen=True, kw_only=True, slots=True)
class VadResult:
    """Voice activity of one input. The span is ``[speech_start_sample, speech_end_sample)`` at
    16 kHz, from the first speech segment's start to the last one's end; both are 0 when no
    speech was found."""

    speech_ratio: float  # fraction of samples inside speech segments, 0..1
    speech_start_sample: int
    speech_end_sample: int
    model_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AsrResult:
    """A hypothesis and its error rates against the reference, both normalised the same way."""

    hypothesis: str  # as the recogniser gave it (not normalised)
    wer: float  # word_errors / max(ref_words, 1)
    cer: float  # char_errors / max(ref_chars, 1)
    word_errors: int  # word-level edit distance (substitutions + deletions + insertions)
    ref_words: int
    char_errors: int
    ref_chars: int
    model_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class LangIdResult:
    """Language of the transcript: ISO 639-1 code ('' when it has no letters) and confidence."""

    language: str
    confidence: float  # 0..1, the detector's relative confidence among its candidates
    words: int  # words in the transcript (after basic normalisation)
    model_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class BandwidthResult:
    """Effective bandwidth of one input (:func:`curate.bandwidth.effective_bandwidth_hz`)."""

    bandwidth_hz: float
    model_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DnsmosResult:
    """DNSMOS of one clip: P.835 SIG, BAK, OVRL and P.808 MOS (each 1-5, higher is better)."""

    sig: float
    bak: float
    ovrl: float
    p808: float
    windows: int  # 9.01 s windows scored
    model_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelFailure:
    """A model raised on one input: what a handler returns instead of a result."""

    model: str  # "vad", "asr", "langid", "bandwidth" or "dnsmos"
    detail: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSignals:
    """The model-based signals of one utterance; a field is ``None`` when its model is off.

    Units: ratios and rates are fractions (0.25 is 25 %); samples are at 16 kHz. The ``*_model``
    fields name the model, its version and a hash of its files: a WER is meaningless without them.
    """

    vad_speech_ratio: float | None = None
    vad_speech_start_sample: int | None = None
    vad_speech_end_sample: int | None = None
    vad_model: str | None = None
    asr_hypothesis: str | None = None
    asr_wer: float | None = None
    asr_cer: float | None = None
    asr_word_errors: int | None = None
    asr_ref_words: int | None = None
    asr_char_errors: int | None = None
    asr_ref_chars: int | None = None
    asr_model: str | None = None
    langid_language: str | None = None
    langid_confidence: float | None = None
    langid_words: int | None = None
    langid_model: str | None = None
    bandwidth_hz: float | None = None
    dnsmos_sig: float | None = None
    dnsmos_bak: float | None = None
    dnsmos_ovrl: float | None = None
    dnsmos_p808: float | None = None
    dnsmos_model: str | None = None

    @property
    def vad_speech_start_s(self) -> float | None:
        s = self.vad_speech_start_sample
        return None if s is None else s / MODEL_RATE_HZ

    @property
    def vad_speech_end_s(self) -> float | None:
        s = self.vad_speech_end_sample
        return None if s is None else s / MODEL_RATE_HZ

    def merged(self, result: VadResult | AsrResult | LangIdResult | BandwidthResult
               | DnsmosResult) -> ModelSignals:
        """A copy with the fields of one model's result filled in."""
        if isinstance(result, VadResult):
            return dataclasses.replace(
                self,
                vad_speech_ratio=result.speech_ratio,
                vad_speech_start_sample=result.speech_start_sample,
                vad_speech_end_sample=result.speech_end_sample,
                vad_model=result.model_id,
            )
        if isinstance(result, AsrResult):
            return dataclasses.replace(
                self,
                asr_hypothesis=result.hypothesis,
                asr_wer=result.wer,
                asr_cer=result.cer,
                asr_word_errors=result.word_errors,
                asr_ref_words=result.ref_words,
                asr_char_errors=result.char_errors,
                asr_ref_chars=result.ref_chars,
                asr_model=result.model_id,
            )
        if isinstance(result, LangIdResult):
            return dataclasses.replace(
                self,
                langid_language=result.language,
                langid_confidence=result.confidence,
                langid_words=result.words,
                langid_model=result.model_id,
            )
        if isinstance(result, BandwidthResult):
            return dataclasses.replace(self, bandwidth_hz=result.bandwidth_hz)
        if isinstance(result, DnsmosResult):
            return dataclasses.replace(
                self,
                dnsmos_sig=result.sig,
                dnsmos_bak=result.bak,
                dnsmos_ovrl=result.ovrl,
                dnsmos_p808=result.p808,
                dnsmos_model=result.model_id,
            )
        raise TypeError(f"not a model result: {type(result).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSignals:
        return cls(**d)


MODEL_SIGNAL_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ModelSignals))


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelInfo:
    """Identity of a loaded model, for ``dataset_info.json``: package, version, the files used
    and a sha256 over their bytes (file names and contents, in sorted order)."""

    name: str  # e.g. "silero-vad", "pocketsphinx", "lingua-language-detector"
    version: str  # the distribution's version
    files: tuple[str, ...]  # base names of the model files
    sha256: str
    detail: str = ""  # e.g. "en-us", "candidates=en,fr,de"

    @property
    def model_id(self) -> str:
        """Compact identity as stored in every manifest row: ``name==version[detail]@sha12``."""
        detail = f"[{self.detail}]" if self.detail else ""
        return f"{self.name}=={self.version}{detail}@{self.sha256[:12]}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["files"] = list(self.files)
        d["model_id"] = self.model_id
        return d
