"""ComputeModelSignals on Beam: the same signals as the models called directly; failures are
records, not crashes; an unloadable model stops the build before any data."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from curate.errors import Reason
from curate.models.config import ModelSignalsConfig
from curate.models.errors import ModelLoadError
from curate.models.filters import first_violation
from curate.models.records import ModelInput, ModelSignals
from curate.models.transform import (FAILED, SIGNALS, ComputeModelSignals, LoadedModels,
                                     _batch_failures, check_models)
from tests.curate.models import speech
from tests.curate.models.conftest import CANDIDATES


def _run(cfg: ModelSignalsConfig, inputs: list[tuple[str, ModelInput]], signals, failed) -> None:
    with TestPipeline() as p:
        out = p | beam.Create(inputs, reshuffle=False) | ComputeModelSignals(cfg)
        assert_that(out[SIGNALS], equal_to(signals), label="Signals")
        assert_that(out[FAILED], equal_to(failed), label="Failed")


def test_beam_gives_the_signals_of_the_models_called_directly(
    loaded_models, signals_cfg, librivox, librivox_signals, espeak
):
    short = sorted(librivox, key=lambda k: librivox[k].samples.shape[0])[:2]
    inputs = [(k, librivox[k]) for k in short]
    inputs.append(("silence", speech.non_speech("nothing to hear here")["silence"]))
    inputs.append(("french", espeak(speech.FRENCH[0], "fr")))
    inputs.append(("nan", ModelInput(samples=np.full(16000, np.nan, np.float32), transcript="x y")))
    direct = {k: librivox_signals.get(k) or loaded_models.compute(x) for k, x in inputs if k != "nan"}
    assert all(isinstance(s, ModelSignals) for s in direct.values())
    nan_failure = loaded_models.compute(inputs[-1][1])
    assert nan_failure.model == "vad"  # the first model refuses it; the others never see it
    # The cascade: silence fails VAD's filter and French langid's, before ASR ever sees them.
    rejected = {k: first_violation(direct.pop(k), signals_cfg) for k in ("silence", "french")}
    assert [r for r, _ in rejected.values()] == [Reason.LOW_SPEECH_RATIO, Reason.WRONG_LANGUAGE]
    _run(signals_cfg, inputs, signals=list(direct.items()),
         failed=[("nan", Reason.MODEL_FAILED, f"vad: {nan_failure.detail}"),
                 *[(k, *r) for k, r in rejected.items()]])


def test_a_recogniser_failing_on_one_input_rejects_only_that_input(model_libraries):
    cfg = ModelSignalsConfig.model_validate(
        {"asr": {"enabled": True, "recognizer": "tests.curate.models.fakes:echo",
                 "options": {"words": "one two three"}}}
    )
    ones = np.full(8000, 0.1, np.float32)
    inputs = [("a", ModelInput(samples=ones, transcript="one two three")),
              ("b", ModelInput(samples=np.zeros(8000, np.float32), transcript="one two three")),
              ("c", ModelInput(samples=ones, transcript="one two four"))]
    expected = [(k, LoadedModels(cfg).compute(x)) for k, x in inputs if k != "b"]
    assert [s.asr_wer for _, s in expected] == [0.0, pytest.approx(1 / 3)]
    failed = [("b", Reason.MODEL_FAILED, "asr: RuntimeError: cannot decode digital silence")]
    _run(cfg, inputs, signals=expected, failed=failed)


def test_the_key_is_opaque_so_the_rest_of_an_utterance_can_ride_along(model_libraries):
    cfg = ModelSignalsConfig.model_validate(
        {"asr": {"enabled": True, "recognizer": "tests.curate.models.fakes:echo",
                 "options": {"words": "one two"}}}
    )
    payload = ("utt-1", {"speaker": "s1", "text": "one two"})  # a dict: unhashable is fine
    x = ModelInput(samples=np.full(800, 0.1, np.float32), transcript="one two")
    expected = LoadedModels(cfg).compute(x)
    _run(cfg, [(payload, x)], signals=[(payload, expected)], failed=[])


def test_with_no_model_enabled_every_input_gets_empty_signals():
    x = ModelInput(samples=np.zeros(10, np.float32), transcript="")
    _run(ModelSignalsConfig(), [("k", x)], signals=[("k", ModelSignals())], failed=[])


def test_a_batch_that_fails_as_a_whole_fails_each_of_its_inputs():
    batch = [(("a", ModelSignals()), None), (("b", ModelSignals()), None)]
    failure = (batch, (RuntimeError, "RuntimeError('boom')", ["traceback"]))
    assert list(_batch_failures(failure, "asr")) == [
        ("a", Reason.MODEL_FAILED, "asr: batch failed: RuntimeError('boom')"),
        ("b", Reason.MODEL_FAILED, "asr: batch failed: RuntimeError('boom')"),
    ]


BAD_MODELS = [
    ({"vad": {"enabled": True, "model_path": "/missing/vad.onnx"}},
     "signals.vad.model_path: no such file: /missing/vad.onnx"),
    ({"asr": {"enabled": True, "recognizer": "pocketsphinx", "model_path": "/missing/en-us"}},
     "signals.asr.model_path: PocketSphinx model files not found"),
    ({"asr": {"enabled": True, "model_path": "/missing/whisper"}},
     "signals.asr.model_path: /missing/whisper is not a CTranslate2 Whisper directory"),
    ({"dnsmos": {"enabled": True, "model_path": "/missing/dnsmos"}},
     "signals.dnsmos.model_path: no such file: /missing/dnsmos/sig_bak_ovr.onnx"),
    ({"langid": {"enabled": True, "candidates": ["en", "qq"]}},
     "signals.langid.candidates: lingua has no language with code 'qq'"),
]


@pytest.mark.parametrize(("data", "message"), BAD_MODELS)
def test_check_models_fails_up_front_naming_the_field(model_libraries, data, message):
    with pytest.raises(ModelLoadError, match=message) as caught:
        check_models(ModelSignalsConfig.model_validate(data))
    assert caught.value.exit_code == 2  # a config error for the CLI: one line, exit 2


def test_an_unloadable_model_stops_the_pipeline_before_any_data(model_libraries):
    cfg = ModelSignalsConfig.model_validate(BAD_MODELS[1][0])
    x = ModelInput(samples=np.zeros(16000, np.float32), transcript="never decoded")
    with pytest.raises(Exception, match="PocketSphinx model files not found"):
        _run(cfg, [("k", x)], signals=[], failed=[])


def test_check_models_describes_each_model_for_dataset_info(model_libraries):
    cfg = ModelSignalsConfig.model_validate(
        {"vad": {"enabled": True}, "langid": {"enabled": True, "candidates": CANDIDATES[:2]}}
    )
    info = check_models(cfg)
    assert sorted(info) == ["langid", "vad"]
    assert info["vad"]["name"] == "silero-vad" and len(info["vad"]["sha256"]) == 64
    assert info["vad"]["model_id"].startswith("silero-vad==6.")
    assert info["langid"]["detail"] == "candidates=en,fr"


def test_keyed_handler_takes_empty_batches_and_never_pickles_keys():
    """Regression: Beam's KeyedModelHandler failed on the empty batches BatchElements emits
    with an element_size_fn, and pickled every key of every batch to count bytes."""
    import threading

    from curate.models.config import VadConfig
    from curate.models.handlers import handler_for, keyed

    handler = keyed(handler_for("vad", VadConfig(enabled=True)))
    assert list(handler.run_inference([], model=None)) == []
    assert handler.get_num_bytes([]) == 0
    x = ModelInput(samples=np.zeros(100, np.float32), transcript="abc")
    unpicklable_key = ("k", threading.Lock())
    assert handler.get_num_bytes([(unpicklable_key, x)]) == 400 + 3


def test_a_model_is_sent_only_the_inputs_the_models_before_it_accepted(model_libraries, librivox):
    """The cascade on Beam: the narrowband copy fails the bandwidth filter and never reaches
    ASR; the CALLS output and the handlers' Beam counters both say so."""
    import soxr
    from apache_beam.metrics.metric import MetricsFilter

    from curate.models.transform import CALLS

    cfg = ModelSignalsConfig.model_validate({
        "bandwidth": {"enabled": True, "min_bandwidth_hz": 5000},
        "asr": {"enabled": True, "recognizer": "tests.curate.models.fakes:echo", "max_wer": None},
    })
    keys = sorted(librivox)[:2]
    inputs = [(k, librivox[k]) for k in keys]
    x = librivox[keys[0]]
    narrow = soxr.resample(soxr.resample(x.samples, 16000, 8000), 8000, 16000)
    inputs.append(("narrow", ModelInput(samples=narrow.astype(np.float32), transcript=x.transcript)))
    p = TestPipeline()
    out = p | beam.Create(inputs, reshuffle=False) | ComputeModelSignals(cfg)
    assert_that(out[CALLS], equal_to([("bandwidth", 3), ("asr", 2)]), label="Calls")
    assert_that(out[SIGNALS] | beam.Keys(), equal_to(keys), label="Accepted")
    assert_that(out[FAILED] | beam.Map(lambda f: f[:2]),
                equal_to([("narrow", Reason.LOW_BANDWIDTH)]), label="Rejected")
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace("curate_models"))["counters"]
    calls = {c.key.metric.name: c.committed for c in counters if c.key.metric.name.startswith("calls.")}
    assert calls == {"calls.bandwidth": 3, "calls.asr": 2}


def test_with_trimming_on_asr_hears_the_vad_trimmed_audio(model_libraries, librivox):
    from curate.models.vad import trim_bounds

    cfg = ModelSignalsConfig.model_validate({
        "vad": {"enabled": True, "trim_margin_s": 0.1},
        "asr": {"enabled": True, "recognizer": "tests.curate.models.fakes:length", "max_wer": None},
    })
    x = librivox[sorted(librivox)[1]]
    silence = np.zeros(16000, np.float32)
    padded = ModelInput(samples=np.concatenate([silence, x.samples, silence]), transcript="t")
    signals = LoadedModels(cfg).compute(padded)
    lo, hi = trim_bounds(padded.samples.shape[0], 16000, signals, 0.1)
    assert hi - lo < padded.samples.shape[0] - 32000  # the padding and more went
    assert signals.asr_hypothesis == f"n{hi - lo}"
    _run(cfg, [("k", padded)], signals=[("k", signals)], failed=[])
