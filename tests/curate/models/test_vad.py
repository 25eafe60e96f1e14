"""Silero VAD through onnxruntime: speech ratio, speech span, trimming."""

from __future__ import annotations

import os

import numpy as np
import pytest

from curate.errors import Reason
from curate.models.config import ModelSignalsConfig, VadConfig
from curate.models.errors import ModelLoadError
from curate.models.filters import first_violation
from curate.models.records import MODEL_RATE_HZ, ModelInput, ModelSignals
from curate.models.vad import (FRAME_SAMPLES, SileroVad, default_model_path, speech_segments,
                               trim, trim_bounds)
from tests.curate.models import speech

VAD_ONLY = ModelSignalsConfig.model_validate({"vad": {"enabled": True, "min_speech_ratio": 0.5}})


@pytest.fixture(scope="module")
def vad(model_libraries) -> SileroVad:
    return SileroVad.load(VadConfig(enabled=True))


def test_read_speech_is_nearly_all_speech(vad, librivox):
    for key, x in librivox.items():
        result = vad.detect(x.samples)
        assert result.speech_ratio > 0.8, key
        assert 0 < result.speech_start_sample < result.speech_end_sample <= x.samples.shape[0]


def test_synthetic_speech_is_nearly_all_speech(vad, espeak):
    for text in speech.ENGLISH:
        assert vad.detect(espeak(text, "en-us").samples).speech_ratio > 0.8, text


def test_silence_and_noise_have_no_speech_and_are_rejected(vad):
    for name, x in speech.non_speech("some words that are never said").items():
        result = vad.detect(x.samples)
        assert result.speech_ratio < 0.05, name
        signals = ModelSignals().merged(result)
        assert first_violation(signals, VAD_ONLY)[0] == Reason.LOW_SPEECH_RATIO, name


def test_the_span_brackets_speech_padded_with_silence(vad, espeak):
    said = espeak(speech.ENGLISH[0], "en-us").samples
    loud = np.flatnonzero(np.abs(said) > 0.01)  # espeak's own clip ends in silence too
    second = np.zeros(MODEL_RATE_HZ, np.float32)
    result = vad.detect(np.concatenate([second, said, second, second]))
    assert abs(result.speech_start_sample - (MODEL_RATE_HZ + loud[0])) < 0.1 * MODEL_RATE_HZ
    assert abs(result.speech_end_sample - (MODEL_RATE_HZ + loud[-1])) < 0.1 * MODEL_RATE_HZ
    assert 0.25 < result.speech_ratio < 0.75  # the silence counts against it


def test_trim_keeps_the_span_and_the_margin_at_any_rate(vad, espeak):
    said = espeak(speech.ENGLISH[1], "en-us").samples
    padded = np.concatenate([np.zeros(2 * MODEL_RATE_HZ, np.float32), said,
                             np.zeros(2 * MODEL_RATE_HZ, np.float32)])
    signals = ModelSignals().merged(vad.detect(padded))
    start, end = signals.vad_speech_start_sample, signals.vad_speech_end_sample
    trimmed = trim(padded, MODEL_RATE_HZ, signals, margin_s=0.25)
    assert trimmed.shape[0] == (end - start) + MODEL_RATE_HZ // 2
    stereo_48k = np.zeros((padded.shape[0] * 3, 2), np.float32)  # the dataset's own audio
    lo, hi = trim_bounds(stereo_48k.shape[0], 48000, signals, margin_s=0.25)
    assert (lo, hi) == (3 * start - 12000, 3 * end + 12000)
    assert trim(stereo_48k, 48000, signals, 0.25).shape == (hi - lo, 2)


def test_trim_leaves_audio_without_speech_alone():
    audio = np.ones(1000, np.float32)
    nothing = ModelSignals(vad_speech_ratio=0.0, vad_speech_start_sample=0, vad_speech_end_sample=0)
    assert trim(audio, MODEL_RATE_HZ, nothing, 0.1).shape == (1000,)
    assert trim(audio, MODEL_RATE_HZ, ModelSignals(), 0.1).shape == (1000,)  # VAD off


def test_segments_follow_silero_rules_on_given_probabilities():
    cfg = VadConfig(min_speech_duration_s=0.25, min_silence_duration_s=0.1, speech_pad_s=0.0)
    frames = lambda seconds: int(seconds * MODEL_RATE_HZ / FRAME_SAMPLES)  # noqa: E731
    probs = np.concatenate([
        np.zeros(frames(1)), np.ones(frames(1)),  # one second of speech
        np.zeros(frames(0.05)), np.ones(frames(1)),  # a pause too short to split
        np.zeros(frames(1)), np.ones(frames(0.1)),  # a blip too short to count
        np.zeros(frames(1)),
    ])
    segments = speech_segments(probs, len(probs) * FRAME_SAMPLES, cfg)
    assert len(segments) == 1
    start, end = segments[0]
    assert start == frames(1) * FRAME_SAMPLES
    assert end == (frames(1) * 2 + frames(0.05) + frames(1)) * FRAME_SAMPLES


def test_the_streaming_export_gives_the_same_probabilities(vad, librivox):
    streaming_file = os.path.join(os.path.dirname(default_model_path()), "silero_vad.onnx")
    streaming = SileroVad.load(VadConfig(enabled=True, model_path=streaming_file))
    x = min(librivox.values(), key=lambda x: x.samples.shape[0])
    np.testing.assert_allclose(streaming.speech_probs(x.samples), vad.speech_probs(x.samples),
                               atol=1e-5)


def test_a_missing_model_file_is_a_load_error_naming_the_field(model_libraries):
    message = r"signals.vad.model_path: no such file: /nowhere/v.onnx"
    with pytest.raises(ModelLoadError, match=message):
        SileroVad.load(VadConfig(enabled=True, model_path="/nowhere/v.onnx"))


def test_non_finite_samples_are_refused(vad):
    with pytest.raises(ValueError, match="NaN"):
        vad.detect(np.full(1600, np.nan, np.float32))


def test_empty_audio_has_no_speech(vad):
    assert vad.detect(np.zeros(0, np.float32)).speech_ratio == 0.0


def test_model_input_downmixes_and_resamples():
    x = ModelInput.from_audio(np.ones((44100, 2), np.float32), sample_rate_hz=44100, transcript="")
    assert x.samples.shape == (16000,) and x.samples.dtype == np.float32
    with pytest.raises(ValueError, match="1-D float32"):
        ModelInput(samples=np.zeros((10, 2), np.float32), transcript="")
