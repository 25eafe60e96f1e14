"""Cheap per-utterance signals: duration, loudness, clipping, silence, SNR, speaking rate, hash.

Every value is a finite float (they go into Parquet and Great Expectations): digital silence
gives the floors below, never ``-inf`` or NaN. Values are rounded to fixed decimals
(:data:`DECIMALS`) so that last-bit differences between SIMD/BLAS implementations do not
change the manifest bytes.

Definitions (``samples`` is the normalised audio, ``(frames, channels)`` float32):

* ``rms_dbfs``, ``peak_dbfs``: 20·log10 of the RMS / peak over all samples; 0 dBFS is a
  full-scale square wave, so a full-scale sine has an RMS of -3.01 dBFS. Floor -120 dBFS.
* ``clipping_ratio``: share of the *source* samples with ``|x| >= 0.999`` (before resampling
  smooths the clipped tops away).
* ``silence_ratio``: share of non-overlapping 25 ms frames whose RMS is below -50 dBFS or more
  than 40 dB under the loudest frame. A trailing partial frame is ignored unless the audio is
  shorter than one frame. All-zero or empty audio: 1.0.
* ``snr_db``: WADA-SNR (Kim & Stern, Interspeech 2008), see :func:`wada_snr`.
* ``chars_per_s``: non-whitespace characters per second; ``words_per_s``: whitespace-separated
  words per second; both 0 for zero duration.
* ``pcm_sha256``: sha256 of the little-endian int16 PCM (:func:`curate.audio.to_pcm16`).
"""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np

from curate.audio import PCM16_SCALE, DecodedAudio, to_pcm16
from curate.records import Signals

__all__ = [
    "CLIP_LEVEL",
    "DB_FLOOR",
    "DECIMALS",
    "SILENCE_FRAME_S",
    "SNR_RANGE_DB",
    "compute_signals",
    "wada_snr",
    "wada_table",
]

DB_FLOOR = -120.0
CLIP_LEVEL = 0.999
SILENCE_FRAME_S = 0.025
SILENCE_ABS_DBFS = -50.0
SILENCE_REL_DB = 40.0
SNR_RANGE_DB = (-20.0, 100.0)
DECIMALS = 6

_GAMMA_SHAPE = 0.4  # Kim & Stern's model of the amplitude distribution of clean speech
_WADA_FLOOR = 0.5 / PCM16_SCALE  # |x| below half a 16-bit step is zero once stored


def compute_signals(
    *,
    source: DecodedAudio,
    samples: np.ndarray,
    sample_rate_hz: int,
    text: str,
    pcm16: np.ndarray | None = None,
) -> Signals:
    """Signals of one utterance. ``pcm16`` may pass ``to_pcm16(samples)`` when the caller
    already has it (it is also what :func:`curate.audio.encode` needs), saving a conversion."""
    frames = int(samples.shape[0])
    duration_s = frames / sample_rate_hz
    flat = samples.reshape(-1)
    squares = np.square(flat)

    if flat.size:
        rms = math.sqrt(float(squares.sum(dtype=np.float64)) / flat.size)
        peak = max(float(flat.max()), -float(flat.min()))
    else:
        rms = peak = 0.0

    src = source.samples
    clipped = np.count_nonzero(src >= CLIP_LEVEL) + np.count_nonzero(src <= -CLIP_LEVEL)
    clipping_ratio = clipped / src.size if src.size else 0.0

    if pcm16 is None:
        pcm16 = to_pcm16(samples)
    chars = len("".join(text.split()))
    words = len(text.split())
    return Signals(
        duration_s=duration_s,
        rms_dbfs=_round(_dbfs(rms)),
        peak_dbfs=_round(_dbfs(peak)),
        clipping_ratio=_round(clipping_ratio),
        silence_ratio=_round(_silence_ratio(squares, frames, sample_rate_hz)),
        snr_db=_round(wada_snr(flat)),
        chars_per_s=_round(chars / duration_s if duration_s > 0 else 0.0),
        words_per_s=_round(words / duration_s if duration_s > 0 else 0.0),
        pcm_sha256=hashlib.sha256(pcm16.astype("<i2", copy=False).tobytes()).hexdigest(),
    )


def wada_snr(samples: np.ndarray) -> float:
    """WADA-SNR estimate in dB of ``samples`` (any shape, all samples pooled).

    G = log(mean|x|) - mean(log|x|) is looked up in :func:`wada_table` (the G of gamma-shaped
    speech plus Gaussian noise at each SNR). ``|x|`` is floored at half a 16-bit step; audio
    with nothing above that floor is silence and gets the lower clamp, -20 dB.
    """
    low, high = SNR_RANGE_DB
    a = np.abs(samples.reshape(-1))
    if a.size == 0 or float(a.max()) < _WADA_FLOOR:
        return low
    np.maximum(a, np.float32(_WADA_FLOOR), out=a)
    mean_abs = float(a.mean(dtype=np.float64))
    np.log(a, out=a)
    g = math.log(mean_abs) - float(a.mean(dtype=np.float64))
    g_table, snr_table = wada_table()
    return float(min(max(np.interp(g, g_table, snr_table), low), high))


@functools.lru_cache(maxsize=1)
def wada_table() -> tuple[np.ndarray, np.ndarray]:
    """``(G, snr_db)``: G of ``s + n`` for SNRs from -25 to 105 dB in 0.25 dB steps, where the
    speech amplitude ``|s|`` is Gamma(shape 0.4) with a random sign and ``n`` is N(0, 1).

    Derived by deterministic numerical integration (computed once, on first use):

    * For a fixed speech amplitude ``a``, both inner expectations over the noise are exact:
      ``E|a+n| = sqrt(2/pi) exp(-a^2/2) + a erf(a/sqrt 2)``, and ``E log|a+n|`` is half the
      log-moment of a noncentral chi-square with one degree of freedom, a Poisson mixture:
      ``(log 2 + sum_j Pois(j; a^2/2) psi(1/2 + j)) / 2`` (for ``a >= 6`` its asymptotic series
      ``log a - sum_k (2k-1)!! / (2k a^2k)``, accurate to ~1e-8 there).
    * The expectation over ``a = theta u``, ``u ~ Gamma(0.4, 1)``, is a trapezoid sum over
      ``y = log a`` on a fixed grid (step 0.02): with ``v = log u`` the density
      ``exp(0.4 v - e^v) / Gamma(0.4)`` is smooth and decays fast on both sides, so shifting it
      by ``log theta`` gives every SNR from the same tabulated inner expectations.

    ``theta`` is set so that ``E s^2 = 0.4 * 1.4 * theta^2`` equals the SNR's power ratio.
    G rises monotonically from 0.409 (Gaussian noise alone) to 1.645 (gamma speech alone).
    """
    alpha = _GAMMA_SHAPE
    y = np.arange(-64.0, 18.0, 0.02)
    a = np.exp(y)
    e_abs, e_log = _noisy_abs_moments(a, y)

    snr_db = np.arange(-25.0, 105.0 + 1e-9, 0.25)
    log_theta = 0.5 * (snr_db * math.log(10) / 10 - math.log(alpha * (alpha + 1)))
    v = y[None, :] - log_theta[:, None]
    log_w = alpha * v - np.exp(v)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    g = np.log(w @ e_abs) - w @ e_log
    g.flags.writeable = False
    snr_db.flags.writeable = False
    return g, snr_db


def _noisy_abs_moments(a: np.ndarray, log_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E|a+n|`` and ``E log|a+n|`` for ``n ~ N(0, 1)``, elementwise over ``a > 0``."""
    small = a < 6.0
    erf = np.ones_like(a)
    erf[small] = np.vectorize(math.erf, otypes=[float])(a[small] / math.sqrt(2))
    e_abs = math.sqrt(2 / math.pi) * np.exp(-0.5 * a * a) + a * erf

    e_log = np.empty_like(a)
    j = np.arange(120, dtype=np.float64)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(j[1:]))))
    euler_gamma = 0.5772156649015329
    psi = -euler_gamma - 2 * math.log(2) + np.concatenate(([0.0], np.cumsum(2 / (2 * j[:-1] + 1))))
    log_mu = 2 * log_a[small] - math.log(2)  # mu = a^2 / 2, the Poisson mean
    mu = np.exp(log_mu)
    log_pois = -mu[:, None] + j[None, :] * log_mu[:, None] - log_fact[None, :]
    e_log[small] = 0.5 * (math.log(2) + np.exp(log_pois) @ psi)

    inv = 1.0 / (a[~small] ** 2)
    series = np.zeros_like(inv)
    double_fact = 1.0
    for k in range(1, 8):
        double_fact *= 2 * k - 1
        series += double_fact / (2 * k) * inv**k
    e_log[~small] = log_a[~small] - series
    return e_abs, e_log


def _silence_ratio(squares: np.ndarray, frames: int, sample_rate_hz: int) -> float:
    if frames == 0:
        return 1.0
    frame_len = max(1, round(SILENCE_FRAME_S * sample_rate_hz))
    n = max(1, frames // frame_len)
    used = min(frames, n * frame_len)
    per_frame = squares.size // frames
    energy = squares[: used * per_frame].reshape(n, -1).mean(axis=1, dtype=np.float64)
    loudest = float(energy.max())
    threshold = max(10 ** (SILENCE_ABS_DBFS / 10), loudest * 10 ** (-SILENCE_REL_DB / 10))
    return float(np.count_nonzero(energy < threshold)) / n


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return DB_FLOOR
    return max(DB_FLOOR, 20.0 * math.log10(amplitude))


def _round(value: float) -> float:
    return float(round(value, DECIMALS))
