"""Language of the transcript: French or German text in an English dataset is flagged."""

from __future__ import annotations

import pytest

from curate.errors import Reason
from curate.models.config import LangIdConfig, ModelSignalsConfig
from curate.models.errors import ModelLoadError
from curate.models.filters import first_violation
from curate.models.langid import LanguageIdentifier
from curate.models.records import ModelSignals
from tests.curate.models import speech
from tests.curate.models.conftest import CANDIDATES


@pytest.fixture(scope="module")
def foreign(espeak):
    """French and German read by espeak-ng, with their (correct) transcripts."""
    return [espeak(t, "fr") for t in speech.FRENCH] + [espeak(t, "de") for t in speech.GERMAN]


def test_english_transcripts_are_english(librivox_signals):
    for key, s in librivox_signals.items():
        assert s.langid_language == "en", key
        assert s.langid_model.startswith("lingua-language-detector==2.")


def test_french_and_german_transcripts_in_an_english_dataset_are_flagged(loaded_models, foreign,
                                                                         signals_cfg):
    expected = ["fr"] * len(speech.FRENCH) + ["de"] * len(speech.GERMAN)
    for x, language in zip(foreign, expected, strict=True):
        signals = loaded_models.compute(x)
        assert signals.vad_speech_ratio > 0.8  # it is speech, only not English
        assert signals.langid_language == language, x.transcript
        assert signals.langid_confidence > 0.9
        reason, detail = first_violation(signals, signals_cfg)
        assert reason == Reason.WRONG_LANGUAGE, detail
        assert f"transcript language '{language}'" in detail


def test_a_dataset_that_accepts_french_keeps_french(loaded_models, foreign):
    cfg = ModelSignalsConfig.model_validate(
        {"langid": {"enabled": True, "languages": ["en", "fr"], "candidates": CANDIDATES}}
    )
    identifier: LanguageIdentifier = loaded_models.loaded["langid"]
    signals = ModelSignals().merged(identifier.identify(foreign[0].transcript))
    assert signals.langid_language == "fr" and first_violation(signals, cfg) is None


def test_short_or_letterless_transcripts_are_not_flagged(loaded_models, signals_cfg):
    identifier: LanguageIdentifier = loaded_models.loaded["langid"]
    for text in ("ja", "si si", "12 34", "", "?!"):
        signals = ModelSignals().merged(identifier.identify(text))
        assert first_violation(signals, signals_cfg) is None, text
    nothing = identifier.identify("12 34 ?!")
    assert (nothing.language, nothing.confidence) == ("", 0.0)


def test_a_candidate_lingua_does_not_know_is_a_load_error(model_libraries):
    with pytest.raises(ModelLoadError, match="signals.langid.candidates: lingua has no language "
                                             "with code 'qq'"):
        LanguageIdentifier.load(LangIdConfig(enabled=True, candidates=["en", "qq"]))



def test_confidence_is_identical_across_detector_instances(model_libraries):
    """Regression: lingua's raw confidence differed in its last bits between two detectors
    (0.6973855728859166 against ...164), so two workers wrote different manifests."""
    text = "he was not an ill disposed young man"
    values = {LanguageIdentifier(CANDIDATES).identify(text).confidence for _ in range(4)}
    assert len(values) == 1
    value = values.pop()
    assert 0.5 < value < 0.9 and value == round(value, 4)
