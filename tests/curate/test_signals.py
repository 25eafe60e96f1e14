"""Tests for curate.signals on signals whose answers are known."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from curate import audio
from curate.config import AudioCodec
from curate.records import SIGNAL_FIELDS
from curate.signals import DB_FLOOR, compute_signals, wada_snr, wada_table

SR = 16000


def sine(seconds: float = 1.0, amp: float = 1.0, freq_hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[:, None]


def signals_of(samples: np.ndarray, text: str = "a b", source: np.ndarray | None = None):
    src = audio.DecodedAudio(samples=samples if source is None else source, sample_rate_hz=SR)
    return compute_signals(source=src, samples=samples, sample_rate_hz=SR, text=text)


def assert_all_finite(sig) -> None:
    for name in SIGNAL_FIELDS:
        value = getattr(sig, name)
        assert isinstance(value, float) and math.isfinite(value), (name, value)


def gamma_speech(n: int, seed: int) -> np.ndarray:
    """The WADA model of clean speech: gamma(0.4) amplitudes with random signs."""
    rng = np.random.default_rng(seed)
    return rng.gamma(0.4, 1.0, n) * rng.choice([-1.0, 1.0], n)


def test_full_scale_sine_levels():
    sig = signals_of(sine())
    assert sig.rms_dbfs == pytest.approx(-3.0103, abs=0.01)
    assert sig.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert sig.duration_s == 1.0
    assert sig.silence_ratio == 0.0
    assert_all_finite(sig)


def test_half_scale_sine_is_6_db_lower():
    sig = signals_of(sine(amp=0.5))
    assert sig.rms_dbfs == pytest.approx(-3.0103 - 6.0206, abs=0.01)
    assert sig.peak_dbfs == pytest.approx(-6.0206, abs=0.01)


@pytest.mark.parametrize("frames", [0, 1, 160, SR])
def test_digital_silence_gives_finite_floors(frames):
    sig = signals_of(np.zeros((frames, 1), np.float32), text="")
    assert_all_finite(sig)
    assert sig.rms_dbfs == DB_FLOOR and sig.peak_dbfs == DB_FLOOR
    assert sig.silence_ratio == 1.0
    assert sig.snr_db == -20.0
    assert sig.clipping_ratio == 0.0
    assert sig.chars_per_s == 0.0 and sig.words_per_s == 0.0


def test_clipping_ratio_is_measured_on_the_source():
    src = sine(amp=0.5)
    src[::10] = 1.0  # 10 % of the samples at full scale
    src[5::20] = -1.0  # and 5 % at negative full scale
    src[7::20] = 0.9985  # just under the threshold: not clipped
    sig = signals_of(np.zeros_like(src), source=src)  # normalised audio does not matter
    assert sig.clipping_ratio == pytest.approx(0.15, abs=1e-6)


def test_silence_ratio_counts_quiet_frames():
    loud = sine(0.5, amp=0.5)
    quiet_45db = sine(0.5, amp=0.5 * 10 ** (-45 / 20))  # > 40 dB under the loudest frame
    quiet_30db = sine(0.5, amp=0.5 * 10 ** (-30 / 20))  # within 40 dB: not silence
    zeros = np.zeros((SR // 2, 1), np.float32)
    assert signals_of(np.concatenate([loud, zeros])).silence_ratio == pytest.approx(0.5)
    assert signals_of(np.concatenate([loud, quiet_45db])).silence_ratio == pytest.approx(0.5)
    assert signals_of(np.concatenate([loud, quiet_30db])).silence_ratio == 0.0
    # absolute floor: a whole utterance at -60 dBFS is silent even though no frame is louder
    assert signals_of(sine(1.0, amp=10 ** (-57 / 20))).silence_ratio == 1.0


def test_silence_ratio_on_stereo_uses_both_channels():
    left = np.concatenate([sine(0.5), np.zeros((SR // 2, 1), np.float32)])
    stereo = np.concatenate([left, left[::-1]], axis=1)  # never silent in both channels
    assert signals_of(np.ascontiguousarray(stereo)).silence_ratio == 0.0


def test_wada_table_is_monotonic_between_theoretical_limits():
    g, snr = wada_table()
    assert np.all(np.diff(g) > 0)
    gauss = math.log(math.sqrt(2 / math.pi)) + (0.5772156649 + math.log(2)) / 2
    assert g[0] == pytest.approx(gauss, abs=2e-3)  # -25 dB: noise alone
    gamma_limit = math.log(0.4) + 2.5613845  # log(shape) - digamma(0.4): speech alone
    assert 1.60 < g[-1] < gamma_limit
    assert snr[0] == -25.0 and snr[-1] == 105.0


def test_wada_snr_tracks_added_white_noise():
    n = 8 * SR
    speech = gamma_speech(n, seed=1)
    speech *= 0.1 / np.sqrt(np.mean(speech**2))
    noise = np.random.default_rng(2).standard_normal(n)
    estimates = []
    for snr_db in (0, 10, 20):
        scaled = noise * 0.1 * 10 ** (-snr_db / 20)
        estimate = wada_snr((speech + scaled).astype(np.float32))
        assert estimate == pytest.approx(snr_db, abs=1.0)
        estimates.append(estimate)
    assert estimates == sorted(estimates)
    assert signals_of((speech + noise * 0.01)[:, None].astype(np.float32)).snr_db == pytest.approx(
        20, abs=1.0
    )


def test_wada_snr_of_pure_noise_is_low_and_of_clean_speech_high():
    noise = np.random.default_rng(3).standard_normal(4 * SR).astype(np.float32) * 0.1
    assert wada_snr(noise) < 0
    clean = (gamma_speech(4 * SR, seed=4) * 0.05).astype(np.float32)
    assert wada_snr(clean) > 40


def test_wada_snr_is_scale_invariant_well_above_the_16_bit_floor():
    x = (gamma_speech(SR, 5) + np.random.default_rng(6).standard_normal(SR)).astype(np.float32)
    x /= np.abs(x).max()
    reference = wada_snr(x)
    for scale in (0.5, 0.1):  # peak -6 and -20 dBFS; |x| is floored at half a 16-bit step
        assert wada_snr(x * scale) == pytest.approx(reference, abs=0.15)


def test_text_rates():
    sig = signals_of(sine(2.0), text="  hello  world\tagain ")
    assert sig.chars_per_s == pytest.approx(15 / 2)
    assert sig.words_per_s == pytest.approx(3 / 2)


def test_pcm_hash_is_the_same_for_wav_and_flac_of_the_same_audio():
    x = np.random.default_rng(8).standard_normal((SR, 1)).astype(np.float32) * 0.2
    hashes = set()
    for codec in AudioCodec:
        decoded = audio.decode(audio.encode(x, SR, codec), uri=f"a.{codec.value}")
        samples = audio.normalise(decoded, sample_rate_hz=SR, channels=1)
        hashes.add(compute_signals(source=decoded, samples=samples, sample_rate_hz=SR,
                                   text="x").pcm_sha256)
    assert len(hashes) == 1
    assert hashes == {signals_of(x).pcm_sha256}  # and equal to the hash of the original


def test_pcm_hash_differs_for_different_audio_and_pcm16_argument_agrees():
    x = sine(amp=0.3)
    sig = signals_of(x)
    assert sig.pcm_sha256 != signals_of(sine(amp=0.31)).pcm_sha256
    src = audio.DecodedAudio(samples=x, sample_rate_hz=SR)
    given = compute_signals(source=src, samples=x, sample_rate_hz=SR, text="a b",
                            pcm16=audio.to_pcm16(x))
    assert given == sig


def test_signals_are_deterministic_and_round_trip():
    x = (gamma_speech(SR, 9) * 0.05).astype(np.float32)[:, None]
    sig = signals_of(x)
    assert signals_of(x.copy()) == sig
    assert type(sig).from_dict(sig.to_dict()) == sig
    assert_all_finite(sig)
    assert dataclasses.asdict(sig).keys() == sig.to_dict().keys()
