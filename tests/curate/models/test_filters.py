"""Model-signal filters: reasons, order, bounds."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from curate.errors import Reason, Stage, stage_of
from curate.models.config import ModelSignalsConfig
from curate.models.filters import first_violation
from curate.models.records import ModelSignals

ALL_ON = ModelSignalsConfig.model_validate(
    {
        "vad": {"enabled": True, "min_speech_ratio": 0.5},
        "asr": {"enabled": True, "max_wer": 0.6, "max_cer": 0.4},
        "langid": {"enabled": True, "languages": ["en"], "min_confidence": 0.5, "min_words": 3},
    }
)
GOOD = ModelSignals(
    vad_speech_ratio=0.9, asr_wer=0.2, asr_cer=0.1, langid_language="en", langid_confidence=0.9,
    langid_words=8,
)


def test_good_signals_pass():
    assert first_violation(GOOD, ALL_ON) is None


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        ({"vad_speech_ratio": 0.1}, Reason.LOW_SPEECH_RATIO, "speech ratio 0.10 < min_speech_ratio 0.5"),
        ({"asr_wer": 0.9}, Reason.ASR_DISAGREEMENT, "wer 0.90 > max_wer 0.6"),
        ({"asr_cer": 0.45}, Reason.ASR_DISAGREEMENT, "cer 0.45 > max_cer 0.4"),
        ({"langid_language": "fr"}, Reason.WRONG_LANGUAGE, "transcript language 'fr' (confidence 0.90)"),
    ],
)
def test_each_rule_names_value_and_bound(change, reason, detail):
    got = first_violation(replace(GOOD, **change), ALL_ON)
    assert got is not None and got[0] == reason and got[1].startswith(detail)


def test_values_equal_to_a_bound_pass():
    edge = replace(GOOD, vad_speech_ratio=0.5, asr_wer=0.6, asr_cer=0.4)
    assert first_violation(edge, ALL_ON) is None


def test_speech_ratio_comes_first_then_language_then_asr():
    bad = replace(GOOD, vad_speech_ratio=0.0, asr_wer=3.0, langid_language="de")
    assert first_violation(bad, ALL_ON)[0] == Reason.LOW_SPEECH_RATIO
    bad = replace(bad, vad_speech_ratio=0.9)
    assert first_violation(bad, ALL_ON)[0] == Reason.WRONG_LANGUAGE


def test_short_or_unsure_transcripts_are_not_flagged_for_language():
    for change in ({"langid_words": 2}, {"langid_confidence": 0.3}, {"langid_language": ""}):
        signals = replace(GOOD, **{"langid_language": "de", **change})
        assert first_violation(signals, ALL_ON) is None, change


def test_a_null_bound_or_a_disabled_model_filters_nothing():
    bad = ModelSignals(vad_speech_ratio=0.0, asr_wer=5.0, asr_cer=5.0, langid_language="de",
                       langid_confidence=1.0, langid_words=10)
    assert first_violation(bad, ModelSignalsConfig()) is None
    unbounded = ModelSignalsConfig.model_validate(
        {"vad": {"enabled": True, "min_speech_ratio": None},
         "asr": {"enabled": True, "max_wer": None, "max_cer": None}}
    )
    assert first_violation(bad, unbounded) is None


def test_model_reasons_are_reason_codes_of_the_filter_and_model_stages():
    assert {stage_of(r) for r in (Reason.LOW_SPEECH_RATIO, Reason.WRONG_LANGUAGE,
                                  Reason.ASR_DISAGREEMENT)} == {Stage.FILTER}
    assert stage_of(Reason.MODEL_FAILED) is Stage.MODEL
    assert len(Reason.__members__) == len(Reason)  # a repeated value would be a silent alias
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", r.value) for r in Reason)
