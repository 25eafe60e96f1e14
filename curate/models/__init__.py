"""Model-based signals: voice activity, ASR agreement and transcript language, on Beam.

Optional: needs the ``signals`` extra (onnxruntime, pocketsphinx, lingua-language-detector) and
the Silero VAD wheel installed without its PyTorch dependency::

    pip install '.[signals]' && pip install --no-deps 'silero-vad>=6.2,<7'

Typical use, in a pipeline::

    check_models(cfg.signals)                      # fail fast, before the pipeline is built
    out = keyed_inputs | ComputeModelSignals(cfg.signals)   # (key, ModelInput)
    out[SIGNALS]   # (key, ModelSignals)
    out[FAILED]    # (key, Reason.MODEL_FAILED, detail)
    # then, per utterance: first_violation(signals, cfg.signals) -> (reason, detail) | None

Names are imported on first use, so importing ``curate.models.config`` stays cheap; no model
library is imported until a model is loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FAILED",
    "SIGNALS",
    "ComputeModelSignals",
    "LoadedModels",
    "ModelInput",
    "ModelLoadError",
    "ModelSignals",
    "ModelSignalsConfig",
    "Recognizer",
    "check_models",
    "first_violation",
    "trim",
]

_WHERE = {
    "ModelLoadError": "errors",
    "FAILED": "transform",
    "SIGNALS": "transform",
    "ComputeModelSignals": "transform",
    "LoadedModels": "transform",
    "check_models": "transform",
    "ModelInput": "records",
    "ModelSignals": "records",
    "ModelSignalsConfig": "config",
    "Recognizer": "asr",
    "first_violation": "filters",
    "trim": "vad",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
