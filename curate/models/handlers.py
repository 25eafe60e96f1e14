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
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult

from curate.models.asr import AsrScorer
from curate.models.config import (
    AsrConfig,
    BandwidthConfig,
    DnsmosConfig,
    LangIdConfig,
    ModelSharing,
    VadConfig,
)
from curate.models.langid import LanguageIdentifier
from curate.models.records import MODEL_RATE_HZ, BandwidthResult, ModelFailure, ModelInput
from curate.models.vad import SileroVad

if TYPE_CHECKING:
    from curate.models.dnsmos import Dnsmos

AnyModelConfig = VadConfig | AsrConfig | LangIdConfig | BandwidthConfig | DnsmosConfig
CALLS_NAMESPACE = "curate_models"  # counter "calls.<model>": inputs each model was run on

__all__ = [
    "CALLS_NAMESPACE",
    "AsrModelHandler",
    "BandwidthMeter",
    "BandwidthModelHandler",
    "DnsmosModelHandler",
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

    def __init__(self, cfg: AnyModelConfig) -> None:
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
        Metrics.counter(CALLS_NAMESPACE, f"calls.{self.name}").inc(len(batch))
        return [PredictionResult(x, r, model_id) for x, r in zip(batch, self._infer_batch(model, batch))]

    def _infer_batch(self, model: ModelT, batch: Sequence[ModelInput]) -> list[Any]:
        return [self.infer_one(model, x) for x in batch]

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

    def _infer_batch(self, model: AsrScorer, batch: Sequence[ModelInput]) -> list[Any]:
        """One batched decode when the recogniser has one (Whisper); when the batch raises,
        each input again on its own, so that one bad input fails alone."""
        if len(batch) > 1 and model.batched:
            try:
                return model.measure_batch(batch)
            except Exception:  # retried one by one below: the failure is reported per input
                pass
        return [self.infer_one(model, x) for x in batch]


class BandwidthMeter:
    """Effective bandwidth as a "model" (DSP: nothing to load), for the cascade's handler."""

    def __init__(self, floor_db: float) -> None:
        self.floor_db = floor_db
        self.model_id = f"effective-bandwidth[floor={floor_db:g}dB]"

    def measure(self, samples) -> BandwidthResult:
        from curate.bandwidth import effective_bandwidth_hz

        hz = effective_bandwidth_hz(samples, MODEL_RATE_HZ, self.floor_db)
        return BandwidthResult(bandwidth_hz=hz, model_id=self.model_id)

    def describe(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "name": "effective-bandwidth", "floor_db": self.floor_db}


class BandwidthModelHandler(_Handler[BandwidthMeter]):
    """Effective bandwidth (DSP): ModelInput -> BandwidthResult."""

    name = "bandwidth"

    def load_model(self) -> BandwidthMeter:
        return BandwidthMeter(self._cfg.floor_db)

    def _infer(self, model: BandwidthMeter, x: ModelInput):
        return model.measure(x.samples)


class DnsmosModelHandler(_Handler["Dnsmos"]):
    """DNSMOS P.835 + P.808 (ONNX): ModelInput -> DnsmosResult."""

    name = "dnsmos"

    def load_model(self) -> Dnsmos:
        from curate.models.dnsmos import Dnsmos

        return Dnsmos.load(self._cfg.model_path)

    def _infer(self, model: Dnsmos, x: ModelInput):
        return model.score(x.samples)


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
    "bandwidth": BandwidthModelHandler,
    "dnsmos": DnsmosModelHandler,
}


def handler_for(name: str, cfg: AnyModelConfig) -> _Handler:
    """The handler of model ``name`` (one of :data:`curate.models.config.CASCADE`)."""
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
