"""Beam ``ModelHandler`` per model, for ``RunInference``.

* ``load_model`` runs once per worker process (RunInference keeps the model in Beam's shared
  handle, used by all of the process's threads), or once per machine with
  ``model_sharing: across_processes`` (Beam's multi-process shared model, for large models).
* Batches are bounded by audio duration, not by count: BatchElements weighs each element by its
  length in whole seconds, and ``max_batch_audio_s`` caps a batch's weight.
* A model that raises on one input does not fail the batch: the result for that input is a
  :class:`ModelFailure` (the transform turns it into a ``model_failed`` rejection).

Handlers take unkeyed :class:`ModelInput`; wrap them in :func:`keyed` for keyed elements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult

from curate.models.asr import AsrScorer
from curate.models.config import AsrConfig, LangIdConfig, ModelSharing, VadConfig
from curate.models.langid import LanguageIdentifier
from curate.models.records import MODEL_RATE_HZ, ModelFailure, ModelInput
from curate.models.vad import SileroVad

__all__ = [
    "AsrModelHandler",
    "LangIdModelHandler",
    "VadModelHandler",
    "audio_seconds",
    "handler_for",
    "keyed",
]

ModelT = TypeVar("ModelT")


def audio_seconds(element: Any) -> int:
    """Batch weight of an element, ``ModelInput`` or ``(key, ModelInput)``: whole seconds, >= 1."""
    x = element[1] if isinstance(element, tuple) else element
    return max(1, math.ceil(x.samples.shape[0] / MODEL_RATE_HZ))


class _Handler(ModelHandler[ModelInput, Any, ModelT], Generic[ModelT]):
    name: ClassVar[str]

    def __init__(self, cfg: VadConfig | AsrConfig | LangIdConfig) -> None:
        super().__init__()  # Beam 2.62's ModelHandler takes no batching arguments
        self._cfg = cfg

    def batch_elements_kwargs(self) -> dict[str, Any]:
        """BatchElements weighs an element by its whole seconds of audio."""
        return {
            "min_batch_size": 1,
            "max_batch_size": max(1, math.ceil(self._cfg.max_batch_audio_s)),
            "element_size_fn": audio_seconds,
        }

    def share_model_across_processes(self) -> bool:
        return self._cfg.model_sharing is ModelSharing.ACROSS_PROCESSES

    def _infer(self, model: ModelT, x: ModelInput) -> Any:
        raise NotImplementedError

    def infer_one(self, model: ModelT, x: ModelInput) -> Any:
        """The result for one input, or a :class:`ModelFailure` if the model raised."""
        try:
            return self._infer(model, x)
        except Exception as e:  # one bad input must not fail its batch
            return ModelFailure(model=self.name, detail=f"{type(e).__name__}: {e}")

    def run_inference(
        self,
        batch: Sequence[ModelInput],
        model: ModelT,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        model_id = getattr(model, "model_id", self.name)
        return [PredictionResult(x, self.infer_one(model, x), model_id) for x in batch]

    def get_num_bytes(self, batch: Sequence[ModelInput]) -> int:
        return sum(x.samples.nbytes + len(x.transcript.encode()) for x in batch)

    def get_metrics_namespace(self) -> str:
        return f"curate_models_{self.name}"


class VadModelHandler(_Handler[SileroVad]):
    """Silero VAD (ONNX): ModelInput -> VadResult."""

    name = "vad"

    def load_model(self) -> SileroVad:
        return SileroVad.load(self._cfg)

    def _infer(self, model: SileroVad, x: ModelInput):
        return model.detect(x.samples)


class AsrModelHandler(_Handler[AsrScorer]):
    """A recogniser scored against the transcript: ModelInput -> AsrResult."""

    name = "asr"

    def load_model(self) -> AsrScorer:
        return AsrScorer.load(self._cfg)

    def _infer(self, model: AsrScorer, x: ModelInput):
        return model.measure(x)


class LangIdModelHandler(_Handler[LanguageIdentifier]):
    """lingua on the transcript: ModelInput -> LangIdResult (the audio is not used)."""

    name = "langid"

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": 256}  # by count: text is cheap

    def load_model(self) -> LanguageIdentifier:
        return LanguageIdentifier.load(self._cfg)

    def _infer(self, model: LanguageIdentifier, x: ModelInput):
        return model.identify(x.transcript)


_HANDLERS: dict[str, type[_Handler]] = {
    "vad": VadModelHandler,
    "asr": AsrModelHandler,
    "langid": LangIdModelHandler,
}


def handler_for(name: str, cfg: VadConfig | AsrConfig | LangIdConfig) -> _Handler:
    """The handler of model ``name`` (``vad``, ``asr`` or ``langid``) with its config."""
    return _HANDLERS[name](cfg)


class _KeyedHandler(KeyedModelHandler):
    """``KeyedModelHandler`` fixed for audio batches (Beam 2.62 to 2.77):

    * an empty batch is accepted: BatchElements emits one when the first element of a bundle
      weighs more than its current target (with ``element_size_fn``), and Beam's version
      cannot unzip it, in ``run_inference`` nor in ``get_num_bytes``;
    * ``get_num_bytes`` (called after every batch, for metrics) counts the examples only:
      Beam's version pickles every key of the batch, and here a key may carry a whole
      utterance riding along (see ``ComputeModelSignals``).
    """

    def __init__(self, unkeyed: _Handler) -> None:
        super().__init__(unkeyed)
        self._handler = unkeyed

    def run_inference(self, batch, model, inference_args=None):
        if not batch:
            return []
        return super().run_inference(batch, model, inference_args)

    def get_num_bytes(self, batch) -> int:
        return self._handler.get_num_bytes([example for _, example in batch])


def keyed(handler: _Handler) -> KeyedModelHandler:
    """``handler`` for ``(key, ModelInput)`` elements: ``(key, PredictionResult)`` out."""
    return _KeyedHandler(handler)
