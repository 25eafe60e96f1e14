"""Voice activity with Silero VAD's ONNX export, run by onnxruntime (no PyTorch).

The model file comes from the ``silero-vad`` wheel (install it with ``pip install --no-deps
silero-vad``: its declared dependencies pull PyTorch, which this module never imports). The
wheel's package ``__init__`` imports torch, so the file is found with ``importlib.util.find_spec``
(which locates a package without running it) instead of ``importlib.resources``.

The default file is ``silero_vad_16k_sequence.onnx``: the same network as the streaming
``silero_vad.onnx`` and bit-identical in its output, but one ONNX call per block of 512 frames
instead of one per 32 ms frame (about three times faster here). A streaming export (inputs
``input``, ``state``, ``sr``) given as ``model_path`` works too.

Speech probabilities come per frame of 512 samples (32 ms); segments follow Silero's own
``get_speech_timestamps`` state machine (threshold with hysteresis, minimum speech and silence
durations, padding; no splitting of long segments, which only matters for its own chunking).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from curate.models.config import VadConfig
from curate.models.errors import ModelLoadError
from curate.models.identity import model_info
from curate.models.records import MODEL_RATE_HZ, ModelInfo, ModelSignals, VadResult

__all__ = ["FRAME_SAMPLES", "SileroVad", "default_model_path", "speech_segments", "trim",
           "trim_bounds"]

FRAME_SAMPLES = 512  # per speech probability, at 16 kHz
_CONTEXT_SAMPLES = 64  # each frame is preceded by the last 64 samples of the previous one
_BLOCK_FRAMES = 512  # frames per ONNX call of the sequence model (~16 s of audio)
_DEFAULT_FILE = "silero_vad_16k_sequence.onnx"


def default_model_path() -> str:
    """The sequence ONNX file shipped in the ``silero-vad`` wheel (not imported: see above)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "signals.vad: the silero-vad package is not installed "
            "(pip install --no-deps 'silero-vad>=6.2,<7'), and no signals.vad.model_path is set"
        )
    return os.path.join(spec.submodule_search_locations[0], "data", _DEFAULT_FILE)


class SileroVad:
    """A loaded Silero VAD: thread-safe (onnxruntime sessions are), one intra-op thread."""

    def __init__(self, session, *, streaming: bool, info: ModelInfo, cfg: VadConfig) -> None:
        self._session = session
        self._streaming = streaming
        self.info = info
        self.model_id = info.model_id
        self._cfg = cfg

    @classmethod
    def load(cls, cfg: VadConfig) -> SileroVad:
        path = cfg.model_path or default_model_path()
        if not os.path.isfile(path):
            raise ModelLoadError(f"signals.vad.model_path: no such file: {path}")
        try:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except ImportError as e:
            raise ModelLoadError(f"signals.vad: onnxruntime is not installed ({e})") from e
        except Exception as e:  # onnxruntime raises its own types for a bad file
            raise ModelLoadError(f"signals.vad.model_path: not a loadable ONNX model: {path}: "
                                 f"{type(e).__name__}: {e}") from e
        names = {i.name for i in session.get_inputs()}
        if names not in ({"input", "h", "c"}, {"input", "state", "sr"}):
            raise ModelLoadError(f"signals.vad.model_path: {path}: inputs {sorted(names)} are not "
                                 "those of a Silero VAD export")
        info = model_info("silero-vad", [path], detail=os.path.basename(path))
        return cls(session, streaming="state" in names, info=info, cfg=cfg)

    def speech_probs(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each 512-sample frame (the last one zero-padded)."""
        if samples.ndim != 1:
            raise ValueError(f"expected 1-D samples at 16 kHz, got shape {list(samples.shape)}")
        if not np.isfinite(samples).all():
            raise ValueError("samples contain NaN or infinity")
        frames = _frames_with_context(samples.astype(np.float32, copy=False))
        if not len(frames):
            return np.zeros(0, np.float32)
        return self._streaming_probs(frames) if self._streaming else self._sequence_probs(frames)

    def _sequence_probs(self, frames: np.ndarray) -> np.ndarray:
        h = np.zeros((1, 1, 128), np.float32)
        c = np.zeros((1, 1, 128), np.float32)
        out = []
        for first in range(0, len(frames), _BLOCK_FRAMES):
            block = frames[first : first + _BLOCK_FRAMES]
            probs, h, c = self._session.run(["speech_probs", "hn", "cn"],
                                            {"input": block, "h": h, "c": c})
            out.append(probs.reshape(-1))
        return np.concatenate(out)

    def _streaming_probs(self, frames: np.ndarray) -> np.ndarray:
        state = np.zeros((2, 1, 128), np.float32)
        rate = np.array(MODEL_RATE_HZ, dtype=np.int64)
        out = np.empty(len(frames), np.float32)
        for i, frame in enumerate(frames):
            feed = {"input": frame[None], "state": state, "sr": rate}
            prob, state = self._session.run(None, feed)
            out[i] = prob.item()
        return out

    def detect(self, samples: np.ndarray) -> VadResult:
        """Speech ratio and speech span of 16 kHz mono ``samples``."""
        n = int(samples.shape[0])
        segments = speech_segments(self.speech_probs(samples), n, self._cfg)
        speech = sum(end - start for start, end in segments)
        return VadResult(
            speech_ratio=speech / n if n else 0.0,
            speech_start_sample=segments[0][0] if segments else 0,
            speech_end_sample=segments[-1][1] if segments else 0,
            model_id=self.model_id,
        )


def _frames_with_context(samples: np.ndarray) -> np.ndarray:
    """``(frames, 64 + 512)``: each zero-padded frame behind the last 64 samples of the one
    before it (zeros for the first), as Silero's streaming wrapper feeds it."""
    count = -(-samples.shape[0] // FRAME_SAMPLES)
    frames = np.zeros((count, FRAME_SAMPLES), np.float32)
    frames.reshape(-1)[: samples.shape[0]] = samples
    context = np.zeros((count, _CONTEXT_SAMPLES), np.float32)
    if count > 1:
        context[1:] = frames[:-1, -_CONTEXT_SAMPLES:]
    return np.concatenate([context, frames], axis=1)


def speech_segments(probs: np.ndarray, num_samples: int, cfg: VadConfig) -> list[tuple[int, int]]:
    """Speech segments ``[(start, end), ...]`` in samples from per-frame probabilities."""
    rate = MODEL_RATE_HZ
    min_speech = rate * cfg.min_speech_duration_s
    min_silence = rate * cfg.min_silence_duration_s
    pad = int(rate * cfg.speech_pad_s)
    neg_threshold = max(cfg.threshold - 0.15, 0.01)
    segments: list[list[int]] = []
    triggered, start, temp_end = False, 0, 0
    for i, p in enumerate(probs):
        sample = FRAME_SAMPLES * i
        if p >= cfg.threshold:
            temp_end = 0
            if not triggered:
                triggered, start = True, sample
            continue
        if triggered and p < neg_threshold:
            temp_end = temp_end or sample
            if sample - temp_end < min_silence:
                continue
            if temp_end - start > min_speech:
                segments.append([start, temp_end])
            triggered, temp_end = False, 0
    if triggered and num_samples - start > min_speech:
        segments.append([start, num_samples])
    for i, seg in enumerate(segments):  # pad, splitting short gaps between neighbours
        if i == 0:
            seg[0] = max(0, seg[0] - pad)
        if i + 1 < len(segments):
            gap = segments[i + 1][0] - seg[1]
            if gap < 2 * pad:
                seg[1] += gap // 2
                segments[i + 1][0] -= gap - gap // 2
            else:
                seg[1] = min(num_samples, seg[1] + pad)
                segments[i + 1][0] = max(0, segments[i + 1][0] - pad)
        else:
            seg[1] = min(num_samples, seg[1] + pad)
    return [(s, e) for s, e in segments]


def trim_bounds(num_samples: int, sample_rate_hz: int, signals: ModelSignals,
                margin_s: float) -> tuple[int, int]:
    """``(start, end)`` of audio at ``sample_rate_hz`` that keeps the speech span plus
    ``margin_s`` on each side. Without a speech span (VAD off or no speech found) nothing is
    trimmed: such audio is for ``min_speech_ratio`` to reject, not for trimming to empty."""
    start, end = signals.vad_speech_start_sample, signals.vad_speech_end_sample
    if start is None or end is None or end <= start:
        return 0, num_samples
    scale = sample_rate_hz / MODEL_RATE_HZ
    margin = margin_s * sample_rate_hz
    lo = max(0, int(np.floor(start * scale - margin)))
    hi = min(num_samples, int(np.ceil(end * scale + margin)))
    return (lo, hi) if hi > lo else (0, num_samples)


def trim(samples: np.ndarray, sample_rate_hz: int, signals: ModelSignals,
         margin_s: float) -> np.ndarray:
    """``samples`` (``(n,)`` or ``(n, channels)`` at any rate) without the non-speech beyond
    ``margin_s`` before the first and after the last speech sample; a view, not a copy."""
    lo, hi = trim_bounds(samples.shape[0], sample_rate_hz, signals, margin_s)
    return samples[lo:hi]
