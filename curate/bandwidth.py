"""Effective bandwidth: the frequency below which a recording holds its energy (DSP, no model).

Narrowband audio resampled to a wideband rate looks like any other 16 kHz file, but nothing it
holds lies above the band of its origin: 8 kHz telephony stops near 3.4-4 kHz, a low-bitrate MP3
at its encoder's low-pass. The effective bandwidth is the frequency below which all but
``10 ** (-floor_db / 10)`` of the energy lies (default 40 dB: all but 1/10 000), over the
long-term power spectrum (Welch: 32 ms Hann frames, half overlapping). Wideband speech keeps
energy up to its Nyquist frequency well above that floor (fricatives reach 8 kHz and beyond);
audio that came through an 8 kHz channel has ~100 dB less above 4 kHz, so its bandwidth comes
out below 4 kHz whatever the rate of the file.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> white = rng.standard_normal(16000)
>>> round(effective_bandwidth_hz(white, 16000) / 1000, 1)   # white noise: all of 0-8 kHz
8.0
>>> import soxr
>>> narrow = soxr.resample(soxr.resample(white, 16000, 8000), 8000, 16000)
>>> effective_bandwidth_hz(narrow, 16000) < 4000
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_FLOOR_DB", "effective_bandwidth_hz", "long_term_spectrum"]

DEFAULT_FLOOR_DB = 40.0
_FRAME_S = 0.032


def long_term_spectrum(samples: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies_hz, power)``: the mean power spectrum of Hann frames of ~32 ms (a power of
    two in samples) with half overlap, of mono ``samples``; a clip shorter than a frame is
    zero-padded to one."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {list(x.shape)}")
    n_fft = 1 << max(4, int(round(np.log2(_FRAME_S * sample_rate_hz))))
    hop = n_fft // 2
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    frames = 1 + (x.shape[0] - n_fft) // hop
    view = np.lib.stride_tricks.as_strided(
        x, shape=(frames, n_fft), strides=(x.strides[0] * hop, x.strides[0]), writeable=False
    )
    window = np.hanning(n_fft + 1)[:-1]
    spectrum = np.fft.rfft(view * window, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).mean(axis=0)
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate_hz), power


def effective_bandwidth_hz(samples: np.ndarray, sample_rate_hz: int,
                           floor_db: float = DEFAULT_FLOOR_DB) -> float:
    """The frequency below which all but ``10 ** (-floor_db / 10)`` of the energy of mono
    ``samples`` lies (upper edge of the spectral bin where the cumulative energy crosses it);
    0.0 for digital silence."""
    freqs, power = long_term_spectrum(samples, sample_rate_hz)
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    above = np.cumsum(power[::-1])[::-1] / total  # share of the energy in bin k and above
    allowed = 10.0 ** (-floor_db / 10.0)
    below_floor = above <= allowed
    if not below_floor.any():
        return sample_rate_hz / 2.0
    k = int(np.argmax(below_floor))  # first bin from which on the energy is under the floor
    bin_hz = float(freqs[1] - freqs[0])
    return max(0.0, k * bin_hz - bin_hz / 2.0)
