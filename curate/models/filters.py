"""Model-signal filters: the first rule that fails decides the reason.

1. ``low_speech_ratio``  vad_speech_ratio < vad.min_speech_ratio
2. ``wrong_language``    langid_language not in langid.languages, with langid_confidence >=
                         langid.min_confidence, for a transcript of at least langid.min_words
                         words (a short or ambiguous transcript is never flagged)
3. ``asr_disagreement``  asr_wer > asr.max_wer, or asr_cer > asr.max_cer

A rule applies only when its model is enabled, its bound is set and its signal is present.
Values equal to a bound pass. Language comes before ASR: a transcript in another language also
disagrees with an English recogniser, and the language is the more useful diagnosis.

>>> from curate.models.config import ModelSignalsConfig
>>> cfg = ModelSignalsConfig.model_validate({"asr": {"enabled": True, "max_wer": 0.5}})
>>> first_violation(ModelSignals(asr_wer=0.75, asr_cer=0.4), cfg)
(<Reason.ASR_DISAGREEMENT: 'asr_disagreement'>, 'wer 0.75 > max_wer 0.5')
"""

from __future__ import annotations

from curate.errors import Reason
from curate.filters import format_against_bound as _fmt
from curate.models.config import ModelSignalsConfig
from curate.models.records import ModelSignals

__all__ = ["first_violation"]


def first_violation(signals: ModelSignals, cfg: ModelSignalsConfig) -> tuple[Reason, str] | None:
    """``(reason, detail)`` for the first rule (see the module docstring) that fails, or None."""
    vad, asr, langid = cfg.vad, cfg.asr, cfg.langid
    ratio = signals.vad_speech_ratio
    if vad.enabled and vad.min_speech_ratio is not None and ratio is not None:
        if ratio < vad.min_speech_ratio:
            detail = f"speech ratio {_fmt(ratio, vad.min_speech_ratio)} < min_speech_ratio " \
                     f"{vad.min_speech_ratio:g}"
            return Reason.LOW_SPEECH_RATIO, detail
    language, confidence = signals.langid_language, signals.langid_confidence
    if langid.enabled and language and confidence is not None:
        words = signals.langid_words or 0
        if (
            language not in langid.languages
            and confidence >= langid.min_confidence
            and words >= langid.min_words
        ):
            detail = f"transcript language {language!r} (confidence {confidence:.2f}) not in " \
                     f"languages {langid.languages}"
            return Reason.WRONG_LANGUAGE, detail
    if asr.enabled:
        for name, value, bound in (("wer", signals.asr_wer, asr.max_wer),
                                   ("cer", signals.asr_cer, asr.max_cer)):
            if value is not None and bound is not None and value > bound:
                detail = f"{name} {_fmt(value, bound)} > max_{name} {bound:g}"
                return Reason.ASR_DISAGREEMENT, detail
    return None
