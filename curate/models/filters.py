"""Model-signal filters: one rule per model, checked in cascade order; the first that fails
decides the reason.

1. ``low_speech_ratio``  vad_speech_ratio < vad.min_speech_ratio
2. ``wrong_language``    langid_language not in langid.languages, with langid_confidence >=
                         langid.min_confidence, for a transcript of at least langid.min_words
                         words (a short or ambiguous transcript is never flagged)
3. ``low_bandwidth``     bandwidth_hz < bandwidth.min_bandwidth_hz
4. ``low_quality``       dnsmos_ovrl < dnsmos.min_dnsmos_ovrl
5. ``asr_disagreement``  asr_wer > asr.max_wer, or asr_cer > asr.max_cer

The order is :data:`curate.models.config.CASCADE`: the transform checks each model's rule right
after that model ran, so an input a rule rejects never reaches a later (dearer) model. A rule
applies only when its model is enabled, its bound is set and its signal is present. Values equal
to a bound pass. Language comes before ASR: a transcript in another language also disagrees with
an English recogniser, and the language is the more useful diagnosis.

>>> from curate.models.config import ModelSignalsConfig
>>> cfg = ModelSignalsConfig.model_validate({"asr": {"enabled": True, "max_wer": 0.5}})
>>> first_violation(ModelSignals(asr_wer=0.75, asr_cer=0.4), cfg)
(<Reason.ASR_DISAGREEMENT: 'asr_disagreement'>, 'wer 0.75 > max_wer 0.5')
"""

from __future__ import annotations

from collections.abc import Callable

from curate.errors import Reason
from curate.filters import format_against_bound as _fmt
from curate.models.config import ModelSignalsConfig
from curate.models.records import ModelSignals

__all__ = ["first_violation", "violation"]

Violation = tuple[Reason, str] | None


def _vad(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    bound, ratio = cfg.vad.min_speech_ratio, signals.vad_speech_ratio
    if bound is not None and ratio is not None and ratio < bound:
        return Reason.LOW_SPEECH_RATIO, f"speech ratio {_fmt(ratio, bound)} < min_speech_ratio {bound:g}"
    return None


def _langid(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    langid = cfg.langid
    language, confidence = signals.langid_language, signals.langid_confidence
    if not language or confidence is None:
        return None
    words = signals.langid_words or 0
    if (
        language not in langid.languages
        and confidence >= langid.min_confidence
        and words >= langid.min_words
    ):
        detail = f"transcript language {language!r} (confidence {confidence:.2f}) not in " \
                 f"languages {langid.languages}"
        return Reason.WRONG_LANGUAGE, detail
    return None


def _bandwidth(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    bound, hz = cfg.bandwidth.min_bandwidth_hz, signals.bandwidth_hz
    if bound is not None and hz is not None and hz < bound:
        return Reason.LOW_BANDWIDTH, f"effective bandwidth {hz:.0f} Hz < min_bandwidth_hz {bound:g}"
    return None


def _dnsmos(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    bound, ovrl = cfg.dnsmos.min_dnsmos_ovrl, signals.dnsmos_ovrl
    if bound is not None and ovrl is not None and ovrl < bound:
        return Reason.LOW_QUALITY, f"DNSMOS OVRL {_fmt(ovrl, bound)} < min_dnsmos_ovrl {bound:g}"
    return None


def _asr(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    asr = cfg.asr
    for name, value, bound in (("wer", signals.asr_wer, asr.max_wer),
                               ("cer", signals.asr_cer, asr.max_cer)):
        if value is not None and bound is not None and value > bound:
            return Reason.ASR_DISAGREEMENT, f"{name} {_fmt(value, bound)} > max_{name} {bound:g}"
    return None


_RULES: dict[str, Callable[[ModelSignals, ModelSignalsConfig], Violation]] = {
    "vad": _vad,
    "langid": _langid,
    "bandwidth": _bandwidth,
    "dnsmos": _dnsmos,
    "asr": _asr,
}


def violation(model: str, signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    """``(reason, detail)`` when the rule of ``model`` fails on ``signals``, else None (also
    when the model is off)."""
    if not getattr(cfg, model).enabled:
        return None
    return _RULES[model](signals, cfg)


def first_violation(signals: ModelSignals, cfg: ModelSignalsConfig) -> Violation:
    """``(reason, detail)`` for the first rule (see the module docstring) that fails, or None."""
    for model in cfg.enabled:
        found = _RULES[model](signals, cfg)
        if found is not None:
            return found
    return None
