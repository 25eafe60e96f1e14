"""Effective bandwidth on real read speech: wideband clips keep energy above 5 kHz, the same
clips through an 8 kHz channel or a low-bitrate MP3 encoder do not."""

from __future__ import annotations

import numpy as np
import pytest

from curate.bandwidth import effective_bandwidth_hz, long_term_spectrum
from tests.curate.models.variants import encode_decode, narrowband


def test_wideband_speech_against_its_narrowband_copies(librivox):
    for key, x in librivox.items():
        wide = effective_bandwidth_hz(x.samples, 16000)
        phone = effective_bandwidth_hz(narrowband(x.samples, 8000), 16000)
        mp3 = encode_decode(x.samples, 16000, "MP3", "MPEG_LAYER_III", compression_level=0.99,
                            bitrate_mode="CONSTANT")
        low_mp3 = effective_bandwidth_hz(mp3, 16000)
        assert wide > 5500, (key, wide)
        assert 3000 < phone < 4000, (key, phone)
        assert low_mp3 < 4000, (key, low_mp3)


def test_bandwidth_is_measured_in_hz_at_any_rate():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(44100)
    assert effective_bandwidth_hz(noise, 44100) == pytest.approx(22050, rel=0.01)
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 1000 * t)
    assert 900 < effective_bandwidth_hz(tone, 48000) < 1200


def test_silence_and_tiny_clips():
    assert effective_bandwidth_hz(np.zeros(16000), 16000) == 0.0
    freqs, power = long_term_spectrum(np.ones(10), 16000)
    assert freqs[-1] == 8000 and power.shape == freqs.shape
    with pytest.raises(ValueError, match="mono"):
        effective_bandwidth_hz(np.zeros((100, 2)), 16000)
