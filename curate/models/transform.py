"""``ComputeModelSignals``: every enabled model over ``(key, ModelInput)``, with RunInference.

The models run as a cascade, one after another in :data:`curate.models.config.CASCADE` order
(VAD, language ID, bandwidth, DNSMOS, ASR), fused in the same stage: no shuffle, and each
element carries the signals found so far with its key. Right after a model ran, its filter
(:func:`curate.models.filters.violation`) is checked: an input it rejects leaves the chain there,
on the ``FAILED`` output as ``(key, reason, detail)``, and is never sent to a later model. So
does an input on which a model raises, as ``(key, Reason.MODEL_FAILED, "<model>: <error>")``, and
every input of a batch that failed as a whole. With VAD trimming on, the later models get the
trimmed audio. The ``CALLS`` output holds ``(model, inputs sent to it)`` for each model, also
counted by each handler in the Beam counter ``curate_models:calls.<model>``.

Models are loaded in each worker's ``DoFn.setup``; a model that cannot load fails the pipeline
there, before it processes data. Call :func:`check_models` before building the pipeline to
fail earlier still, in the launcher, with a one-line message, and to get the models'
identities for ``dataset_info.json``.

:class:`LoadedModels` runs the same per-input code without Beam (tests, benchmarks, notebooks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference

from curate.errors import Reason
from curate.models.config import ModelSignalsConfig
from curate.models.errors import ModelLoadError
from curate.models.filters import violation
from curate.models.handlers import handler_for, keyed
from curate.models.records import MODEL_RATE_HZ, ModelFailure, ModelInput, ModelSignals

__all__ = ["CALLS", "FAILED", "SIGNALS", "ComputeModelSignals", "LoadedModels", "check_models"]

SIGNALS = "signals"  # (key, ModelSignals)
FAILED = "failed"  # (key, reason, detail)
CALLS = "calls"  # (model, number of inputs sent to it)


class LoadedModels:
    """The enabled models, loaded in this process, and the handlers' own per-input code."""

    def __init__(self, cfg: ModelSignalsConfig) -> None:
        self._handlers = {name: handler_for(name, getattr(cfg, name)) for name in cfg.enabled}
        self._trim_margin_s = cfg.vad.trim_margin_s if cfg.vad.enabled else None
        self.loaded: dict[str, Any] = {}  # name -> the loaded model
        for name, handler in self._handlers.items():
            try:
                self.loaded[name] = handler.load_model()
            except ModelLoadError:
                raise
            except Exception as e:
                raise ModelLoadError(f"signals.{name}: cannot load the model: "
                                     f"{type(e).__name__}: {e}") from e

    def compute(self, x: ModelInput) -> ModelSignals | ModelFailure:
        """All enabled models on one input, as ``ComputeModelSignals`` runs them (the later
        models on VAD-trimmed audio when trimming is on), but without the filters: every model
        runs."""
        signals = ModelSignals()
        for name, handler in self._handlers.items():
            result = handler.infer_one(self.loaded[name], x)
            if isinstance(result, ModelFailure):
                return result
            signals = signals.merged(result)
            if name == "vad" and self._trim_margin_s is not None:
                x = _trimmed(x, signals, self._trim_margin_s)
        return signals

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per model: ``model_id``, and name, version, files and sha256 where the model tells."""
        out: dict[str, dict[str, Any]] = {}
        for name, model in self.loaded.items():
            for part in (model, getattr(model, "recognizer", None)):
                describe = getattr(part, "describe", None)
                info = getattr(part, "info", None)
                if callable(describe):
                    out[name] = describe()
                    break
                if info is not None:
                    out[name] = info.to_dict()
                    break
            else:
                out[name] = {"model_id": model.model_id}
        return out


def check_models(cfg: ModelSignalsConfig) -> dict[str, dict[str, Any]]:
    """Load every enabled model and run it on a probe (one second of silence, "hello world");
    raise :class:`ModelLoadError` naming the config field when one cannot. Returns
    :meth:`LoadedModels.describe`, for ``dataset_info.json``. Cost: the models' load time."""
    loaded = LoadedModels(cfg)
    probe = ModelInput(samples=np.zeros(MODEL_RATE_HZ, np.float32), transcript="hello world")
    result = loaded.compute(probe)
    if isinstance(result, ModelFailure):
        raise ModelLoadError(f"signals.{result.model}: the model loaded but fails on a probe "
                             f"input: {result.detail}")
    return loaded.describe()


def _start(element: tuple[Any, ModelInput]) -> tuple[tuple[Any, ModelSignals], ModelInput]:
    key, x = element
    return (key, ModelSignals()), x


class _MergeFn(beam.DoFn):
    """Fold one model's result into the signals carried with the key; fail the input when the
    model raised or when the model's filter rejects it; after VAD, trim the audio the later
    models get (when trimming is on)."""

    def __init__(self, model: str, cfg: ModelSignalsConfig, trim: bool) -> None:
        self._model, self._cfg, self._trim = model, cfg, trim

    def process(self, element):
        (key, signals), result = element
        inference, x = result.inference, result.example
        if isinstance(inference, ModelFailure):
            Metrics.counter("curate_models", f"failed.{inference.model}").inc()
            yield beam.pvalue.TaggedOutput(
                FAILED, (key, Reason.MODEL_FAILED, f"{inference.model}: {inference.detail}")
            )
            return
        signals = signals.merged(inference)
        rejected = violation(self._model, signals, self._cfg)
        if rejected is not None:
            yield beam.pvalue.TaggedOutput(FAILED, (key, *rejected))
            return
        if self._trim:
            x = _trimmed(x, signals, self._cfg.vad.trim_margin_s)
        yield (key, signals), x


def _trimmed(x: ModelInput, signals: ModelSignals, margin_s: float) -> ModelInput:
    from curate.models.vad import trim_bounds

    lo, hi = trim_bounds(x.samples.shape[0], MODEL_RATE_HZ, signals, margin_s)
    if (lo, hi) == (0, x.samples.shape[0]):
        return x
    return ModelInput(samples=x.samples[lo:hi], transcript=x.transcript)


def _named_count(n: int, model: str) -> tuple[str, int]:
    return model, n


def _batch_failures(failure, model: str) -> Iterable[tuple[Any, Reason, str]]:
    """A batch that raised as a whole (RunInference's dead letters): fail each of its inputs."""
    batch, (_, error, _) = failure
    for (key, _), _ in batch:
        yield key, Reason.MODEL_FAILED, f"{model}: batch failed: {error}"


def _finish(element: tuple[tuple[Any, ModelSignals], ModelInput]) -> tuple[Any, ModelSignals]:
    (key, signals), _ = element
    return key, signals


class ComputeModelSignals(beam.PTransform):
    """``(key, ModelInput)`` -> ``{SIGNALS: (key, ModelSignals), FAILED: (key, reason, detail),
    CALLS: (model, inputs)}``.

    Every input comes out exactly once, on one of the first two outputs. With no model enabled, each
    input gets an empty ``ModelSignals``. The key is opaque (any picklable value; it is never
    hashed or compared), so a pipeline can let the rest of an utterance ride along in it, e.g.
    ``((utterance, samples), ModelInput)``, and get it back with the signals without a join.
    """

    def __init__(self, cfg: ModelSignalsConfig) -> None:
        super().__init__()
        self._cfg = cfg

    def expand(self, inputs):
        cfg = self._cfg
        pending = inputs | "Start" >> beam.Map(_start)  # ((key, ModelSignals), ModelInput)
        failures, calls = [], []
        trim = cfg.vad.enabled and cfg.vad.trim_margin_s is not None
        for name in cfg.enabled:
            step = name.capitalize()
            handler = keyed(handler_for(name, getattr(cfg, name)))
            calls.append(
                pending
                | f"Count{step}Inputs" >> beam.combiners.Count.Globally()
                | f"Name{step}Count" >> beam.Map(_named_count, name)
            )  # (model, inputs sent to it)
            results, dead = pending | f"Infer{step}" >> RunInference(
                handler
            ).with_exception_handling()  # ((key, ModelSignals), PredictionResult)
            merge = _MergeFn(name, cfg, trim and name == "vad")
            merged = results | f"Merge{step}" >> beam.ParDo(merge).with_outputs(
                FAILED, main=SIGNALS
            )  # ((key, ModelSignals), ModelInput) | (key, reason, detail)
            failures.append(merged[FAILED])
            failures.append(
                dead.failed_inferences | f"{step}BatchFailed" >> beam.FlatMap(_batch_failures, name)
            )
            pending = merged[SIGNALS]
        signals = pending | "Finish" >> beam.Map(_finish)  # (key, ModelSignals)
        failed = failures | "AllFailures" >> beam.Flatten(pipeline=inputs.pipeline)
        counted = calls | "AllCalls" >> beam.Flatten(pipeline=inputs.pipeline)
        return {SIGNALS: signals, FAILED: failed, CALLS: counted}
