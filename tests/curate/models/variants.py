"""The same recording made different: re-encoded, resampled, quieter, trimmed, or narrowband.

Each variant comes back as 16 kHz mono float32, as the models and the fingerprint see audio after
decoding and resampling. Codecs are libsndfile's (bundled in the soundfile wheel): MP3 (LAME),
Opus in Ogg, mu-law WAV.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import soxr

__all__ = ["VARIANTS", "add_noise", "encode_decode", "narrowband", "variants"]

RATE = 16000
VARIANTS = ("mp3", "opus", "mulaw", "8khz", "48khz", "gain_-6db", "trim_300ms")


def _to_model_rate(y: np.ndarray, rate: int) -> np.ndarray:
    if y.ndim == 2:
        y = y.mean(axis=1)
    if rate != RATE:
        y = soxr.resample(y, rate, RATE, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def encode_decode(x: np.ndarray, rate: int, fmt: str, subtype: str, **kw) -> np.ndarray:
    """``x`` written by libsndfile as ``fmt``/``subtype`` at ``rate`` and read back at 16 kHz."""
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype, **kw)
    buf.seek(0)
    y, got = sf.read(buf, dtype="float32")
    return _to_model_rate(y, got)


def narrowband(x: np.ndarray, rate: int = 8000) -> np.ndarray:
    """Through a ``rate`` channel and back to 16 kHz (telephony when 8000)."""
    return _to_model_rate(soxr.resample(x, RATE, rate, quality="HQ"), rate)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at ``snr_db`` against the clip's mean power (scaled down if it would clip)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x.shape[0]) * np.sqrt(np.mean(x.astype(np.float64) ** 2)
                                                      / 10 ** (snr_db / 10))
    y = x + noise
    return (y / max(1.0, float(np.abs(y).max()))).astype(np.float32)


def variants(x: np.ndarray) -> dict[str, np.ndarray]:
    """Every variant of :data:`VARIANTS` of 16 kHz mono ``x``."""
    at_48k = soxr.resample(x, RATE, 48000, quality="HQ")
    return {
        "mp3": encode_decode(x, RATE, "MP3", "MPEG_LAYER_III"),
        "opus": encode_decode(at_48k, 48000, "OGG", "OPUS"),
        "mulaw": encode_decode(x, RATE, "WAV", "ULAW"),
        "8khz": narrowband(x, 8000),
        "48khz": _to_model_rate(at_48k, 48000),
        "gain_-6db": (x * 10 ** (-6 / 20)).astype(np.float32),
        "trim_300ms": np.ascontiguousarray(x[int(0.3 * RATE) :]),
    }
