"""DNSMOS (Microsoft's non-intrusive speech quality model), straight from the ONNX files.

The two networks ship in the ``speechmos`` wheel, pinned here to version 0.0.1.1 and to the
sha256 of each file: ``dnsmos_models/sig_bak_ovr.onnx`` (ITU-T P.835: speech signal quality SIG,
background noise BAK and overall quality OVRL, each a 1-5 mean opinion score, on raw 16 kHz
audio) and ``dnsmos_models/model_v8.onnx`` (P.808 overall MOS, on a log-mel spectrogram). The
wheel's own ``run()`` is not used: it imports librosa, creates sessions lazily in a global and
slides a 9.01 s window by 1 s, so a 15 s clip costs six windows. Here:

* sessions are created once per loaded model (once per worker under RunInference), one
  intra-op thread each;
* a clip is cut into ``ceil(duration / 9.01 s)`` windows spread evenly from its start to its end
  (non-overlapping but for the last one, which ends at the clip's end), and all windows of a
  clip go through each network in one call; a clip shorter than a window is repeated to fill
  it, as DNSMOS's reference code does; a clip's scores are the means over its windows;
* the P.808 input is librosa's ``melspectrogram`` + ``power_to_db(ref=max)`` re-done in numpy
  (120 Slaney mel bands, 321-point periodic Hann frames every 160 samples, zero-padded centre
  frames), equal to librosa's to float32 rounding, without importing librosa;
* the raw P.835 outputs go through DNSMOS's published third-order calibration polynomials.

On the real LibriVox clips the scores agree with ``speechmos.dnsmos.run`` to within 0.01 where
both see the same window (``tests/curate/models/test_dnsmos.py``; ``bench/`` compares the rest).
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

from curate.models.errors import ModelLoadError
from curate.models.identity import model_info
from curate.models.pinned import PinnedFiles, file_sha256, package_dir
from curate.models.records import MODEL_RATE_HZ, DnsmosResult

__all__ = [
    "BUNDLED_DIST",
    "BUNDLED_SHA256",
    "BUNDLED_VERSION",
    "WINDOW_SAMPLES",
    "Dnsmos",
    "DnsmosResult",
    "mel_filterbank",
    "p808_features",
    "windows",
]

BUNDLED_DIST = "speechmos"
BUNDLED_VERSION = "0.0.1.1"
BUNDLED_SHA256 = {
    "dnsmos_models/sig_bak_ovr.onnx": "269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
    "dnsmos_models/model_v8.onnx": "9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
}
_FIELD = "signals.dnsmos"
WINDOW_SAMPLES = 144160  # 9.01 s at 16 kHz: the P.835 network's input
_P808_SAMPLES = WINDOW_SAMPLES - 160  # its reference feeds the mel of all but the last 10 ms
_N_FFT, _HOP, _N_MELS = 321, 160, 120
# DNSMOS's calibration of the raw P.835 outputs (numpy.poly1d order: highest power first).
_POLY_SIG = (-0.08397278, 1.22083953, 0.0052439)
_POLY_BAK = (-0.13166888, 1.60915514, -0.39604546)
_POLY_OVRL = (-0.06766283, 1.11546468, 0.04602535)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)),
                    (200.0 / 3) * m)


@functools.cache
def mel_filterbank(sr: int = MODEL_RATE_HZ, n_fft: int = _N_FFT,
                   n_mels: int = _N_MELS) -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` triangular Slaney-normalised filters from 0 Hz to ``sr / 2``
    (librosa.filters.mel's defaults). Read-only: cached per process."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


@functools.cache
def _hann() -> np.ndarray:
    n = np.arange(_N_FFT)
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / _N_FFT)).astype(np.float32)  # periodic
    window.flags.writeable = False
    return window


def p808_features(audio: np.ndarray) -> np.ndarray:
    """``(frames, 120)`` float32 P.808 input for ``audio`` (float32, 16 kHz): power mel
    spectrogram in dB relative to its maximum (floor 80 dB below), mapped by ``(dB + 40) / 40``."""
    pad = _N_FFT // 2
    x = np.pad(audio.astype(np.float32, copy=False), (pad, pad))
    frames = 1 + (x.shape[0] - _N_FFT) // _HOP
    view = np.lib.stride_tricks.as_strided(
        x, shape=(frames, _N_FFT), strides=(x.strides[0] * _HOP, x.strides[0]), writeable=False
    )
    spectrum = np.fft.rfft(view * _hann(), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = power @ mel_filterbank().T  # (frames, 120)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db -= 10.0 * np.log10(max(float(mel.max()), 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    return ((db + 40.0) / 40.0).astype(np.float32)


def windows(samples: np.ndarray) -> np.ndarray:
    """``(n, WINDOW_SAMPLES)`` windows of a clip: repeated to one window when shorter, else
    ``ceil(len / window)`` windows spread evenly from the start to the end."""
    x = samples.astype(np.float32, copy=False)
    if x.shape[0] == 0:
        raise ValueError("empty audio has no quality score")
    if x.shape[0] < WINDOW_SAMPLES:
        x = np.tile(x, math.ceil(WINDOW_SAMPLES / x.shape[0]))
        return x[None, :WINDOW_SAMPLES].copy()
    count = math.ceil(x.shape[0] / WINDOW_SAMPLES)
    starts = np.linspace(0, x.shape[0] - WINDOW_SAMPLES, count).round().astype(np.int64)
    return np.stack([x[s : s + WINDOW_SAMPLES] for s in starts])


def _session(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class Dnsmos:
    """Both DNSMOS networks, loaded once; thread-safe (onnxruntime sessions are)."""

    def __init__(self, p835, p808, info, file_sha256: dict[str, str] | None = None) -> None:
        self._p835 = p835
        self._p808 = p808
        self.info = info
        self.file_sha256 = file_sha256 or {}
        self.model_id = info.model_id

    @classmethod
    def load(cls, model_dir: str | None = None) -> Dnsmos:
        """From the pinned ``speechmos`` wheel (verified first), or from ``model_dir`` holding
        ``sig_bak_ovr.onnx`` and ``model_v8.onnx`` (hashed and recorded, not pinned)."""
        if model_dir is None:
            root = package_dir("speechmos", field=_FIELD,
                               install=f"pip install '{BUNDLED_DIST}=={BUNDLED_VERSION}'")
            pinned = PinnedFiles(field=_FIELD, dist=BUNDLED_DIST, version=BUNDLED_VERSION,
                                 directory=root, sha256=BUNDLED_SHA256)
            p808_path, p835_path = pinned.verify()  # sorted: model_v8, sig_bak_ovr
            version, hashes = BUNDLED_VERSION, dict(sorted(BUNDLED_SHA256.items()))
        else:
            p835_path = os.path.join(model_dir, "sig_bak_ovr.onnx")
            p808_path = os.path.join(model_dir, "model_v8.onnx")
            for path in (p835_path, p808_path):
                if not os.path.isfile(path):
                    raise ModelLoadError(f"{_FIELD}.model_path: no such file: {path}")
            version = "unknown"
            hashes = {os.path.basename(p): file_sha256(p) for p in (p808_path, p835_path)}
        try:
            p835, p808 = _session(p835_path), _session(p808_path)
        except ImportError as e:
            raise ModelLoadError(f"{_FIELD}: onnxruntime is not installed ({e})") from e
        except Exception as e:  # onnxruntime raises its own types for a bad file
            raise ModelLoadError(f"{_FIELD}: not a loadable ONNX model: {type(e).__name__}: "
                                 f"{e}") from e
        info = model_info("dnsmos", [p835_path, p808_path], detail="p835+p808", version=version)
        return cls(p835, p808, info, hashes)

    def score(self, samples: np.ndarray) -> DnsmosResult:
        """DNSMOS of 1-D float32 16 kHz ``samples`` (see the module docstring)."""
        if samples.ndim != 1:
            raise ValueError(f"expected 1-D samples at 16 kHz, got shape {list(samples.shape)}")
        if not np.isfinite(samples).all():
            raise ValueError("samples contain NaN or infinity")
        return self.score_windows(windows(np.clip(samples, -1.0, 1.0)))

    def score_windows(self, wins: np.ndarray) -> DnsmosResult:
        """Mean DNSMOS over ``(n, WINDOW_SAMPLES)`` windows, each scored as DNSMOS's reference
        code scores one window."""
        wins = np.ascontiguousarray(wins, dtype=np.float32)
        raw = self._p835.run(None, {"input_1": wins})[0].astype(np.float64)  # (n, 3)
        mel = np.stack([p808_features(w[:_P808_SAMPLES]) for w in wins])
        p808 = self._p808.run(None, {"input_1": mel})[0].astype(np.float64)[:, 0]
        sig = np.polyval(_POLY_SIG, raw[:, 0])
        bak = np.polyval(_POLY_BAK, raw[:, 1])
        ovrl = np.polyval(_POLY_OVRL, raw[:, 2])
        return DnsmosResult(sig=float(sig.mean()), bak=float(bak.mean()),
                            ovrl=float(ovrl.mean()), p808=float(p808.mean()),
                            windows=int(wins.shape[0]), model_id=self.model_id)

    def describe(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "window_s": WINDOW_SAMPLES / MODEL_RATE_HZ,
                "file_sha256": self.file_sha256}
