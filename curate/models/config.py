"""The ``signals:`` section of a build config: which models run, and their thresholds.

Every model is off by default. A threshold set to ``null`` keeps the signal but filters nothing.

.. code-block:: yaml

    signals:
      vad:    {enabled: true, min_speech_ratio: 0.5, trim_margin_s: 0.25}
      asr:    {enabled: true, max_wer: 0.6, max_cer: null}
      langid: {enabled: true, languages: [en]}
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_CANDIDATES",
    "AsrConfig",
    "LangIdConfig",
    "ModelSharing",
    "ModelSignalsConfig",
    "TextNorm",
    "VadConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelSharing(str, enum.Enum):
    """How RunInference holds a model on a worker."""

    PER_PROCESS = "per_process"  # one copy per SDK process, shared by its threads
    ACROSS_PROCESSES = "across_processes"  # one copy per machine (large models, GPUs)


class TextNorm(str, enum.Enum):
    """Normalisation applied to reference and hypothesis alike before scoring."""

    BASIC = "basic"  # Unicode NFKC, case-folding, no punctuation, no bracketed annotations
    ENGLISH = "english"  # basic, and numbers, '&', '%' and titles spelled out in English words


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
    """ASR agreement: a hypothesis from an offline recogniser, WER and CER against the text."""

    enabled: bool = False
    recognizer: str = Field(
        default="pocketsphinx",
        pattern=r"^(pocketsphinx|faster-whisper|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'pocketsphinx', 'faster-whisper' or 'package.module:factory' (a callable "
        "taking model_path and **options and returning a curate.models.asr.Recognizer)",
    )
    model_path: str | None = Field(
        default=None,
        description="pocketsphinx: a model dir laid out like the wheel's model/en-us (default); "
        "faster-whisper: a local CTranslate2 model dir (required)",
    )
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    text_norm: TextNorm = TextNorm.ENGLISH
    max_wer: Annotated[float, Field(ge=0)] | None = 0.6
    max_cer: Annotated[float, Field(ge=0)] | None = None
    max_batch_audio_s: Annotated[float, Field(gt=0)] = 60.0


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

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the enabled models, in the order they run: ``vad``, ``asr``, ``langid``."""
        return tuple(name for name in ("vad", "asr", "langid") if getattr(self, name).enabled)
