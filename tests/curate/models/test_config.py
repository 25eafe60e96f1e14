"""The ``signals:`` config section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curate.models.config import ModelSharing, ModelSignalsConfig, TextNorm


def test_every_model_is_off_by_default_and_thresholds_have_defaults():
    cfg = ModelSignalsConfig()
    assert cfg.enabled == ()
    assert cfg.vad.min_speech_ratio == 0.5
    assert cfg.asr.max_wer == 0.6 and cfg.asr.max_cer is None
    assert cfg.asr.recognizer == "whisper" and cfg.asr.text_norm is TextNorm.WHISPER
    assert cfg.asr.device.value == "cpu" and cfg.asr.compute_type is None
    assert cfg.bandwidth.min_bandwidth_hz is None and cfg.dnsmos.min_dnsmos_ovrl is None
    assert not cfg.near_duplicates.enabled and not cfg.any_enabled


def test_the_text_norm_follows_the_recogniser_unless_given():
    def norm(asr):
        return ModelSignalsConfig.model_validate({"asr": asr}).asr.text_norm

    assert norm({"recognizer": "pocketsphinx"}) is TextNorm.ENGLISH
    assert norm({"recognizer": "whisper"}) is TextNorm.WHISPER
    assert norm({"recognizer": "pocketsphinx", "text_norm": "whisper"}) is TextNorm.WHISPER


def test_device_and_compute_type_reach_whisper_only():
    cfg = ModelSignalsConfig.model_validate({"asr": {"device": "auto", "compute_type": "int8"}})
    assert cfg.asr.recognizer_options() == {"device": "auto", "compute_type": "int8"}
    with pytest.raises(ValidationError, match="applies to recognizer 'whisper' only"):
        ModelSignalsConfig.model_validate({"asr": {"recognizer": "pocketsphinx", "device": "cuda"}})
    with pytest.raises(ValidationError, match="set device in signals.asr itself"):
        ModelSignalsConfig.model_validate({"asr": {"options": {"device": "cuda"}}})
    ps = ModelSignalsConfig.model_validate({"asr": {"recognizer": "pocketsphinx"}})
    assert ModelSignalsConfig.model_validate(ps.model_dump(mode="json")) == ps  # round trip
    assert cfg.langid.languages == ["en"] and "en" in cfg.langid.candidates


def test_enabled_lists_models_in_the_order_they_run():
    cfg = ModelSignalsConfig.model_validate({"langid": {"enabled": True}, "vad": {"enabled": True}})
    assert cfg.enabled == ("vad", "langid")
    every = {name: {"enabled": True} for name in ("asr", "dnsmos", "bandwidth", "langid", "vad")}
    assert ModelSignalsConfig.model_validate(every).enabled == (
        "vad", "langid", "bandwidth", "dnsmos", "asr")  # cheapest first, ASR last


def test_a_config_round_trips_through_json():
    cfg = ModelSignalsConfig.model_validate(
        {"asr": {"enabled": True, "options": {"beam": 1e-40}, "model_sharing": "across_processes"}}
    )
    again = ModelSignalsConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg and again.asr.model_sharing is ModelSharing.ACROSS_PROCESSES


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"vad": {"min_speech_ratio": 1.5}}, "less than or equal to 1"),
        ({"vad": {"enabled": True, "typo": 1}}, "Extra inputs are not permitted"),
        ({"asr": {"max_wer": -0.1}}, "greater than or equal to 0"),
        ({"asr": {"recognizer": "not a module path"}}, "should match pattern"),
        ({"langid": {"languages": ["EN"]}}, "not a lower-case ISO 639-1 code"),
        ({"langid": {"languages": ["sv"], "candidates": ["en", "fr"]}},
         "also be among the candidates"),
    ],
)
def test_bad_values_are_refused_with_the_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        ModelSignalsConfig.model_validate(data)


def test_a_plug_in_recogniser_is_named_by_module_and_factory():
    cfg = ModelSignalsConfig.model_validate({"asr": {"recognizer": "my_pkg.whisper:make"}})
    assert cfg.asr.recognizer == "my_pkg.whisper:make"
