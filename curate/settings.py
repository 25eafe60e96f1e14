"""A build's per-utterance settings: everything besides the input itself that decides an
example's bytes and its signals.

Two builds with equal settings turn the same input into the same example, so a build on a base
version may carry the base's example over instead of decoding the input again (the input must
match too: :meth:`curate.records.Utterance.input_sha256`). The settings are

* ``process_version``: :data:`PROCESS_VERSION`, bumped whenever this library's per-utterance
  work (decode, normalise, signals, encode, serialise) changes what it writes;
* ``audio``: the config's sample rate, channels and codec;
* ``signals``: the model-signal config, less its filter bounds (``curate.models.filters``
  applies those to recorded signals) and its batching (which changes how, not what);
* ``models``: each enabled model's identity (name, version, sha256 of its files);
* ``libraries``: the versions of the libraries whose arithmetic or encoders decide the bytes.

Filters are not settings: a filter change is applied from the signals a base recorded.
``settings_sha256`` goes into ``dataset_info.json`` and into every manifest and
``rejected.parquet`` row.

>>> a = {"audio": {"codec": "flac", "sample_rate_hz": 16000}, "process_version": 1}
>>> settings_changes(a, {**a, "audio": {"codec": "wav", "sample_rate_hz": 16000}})
['audio.codec flac -> wav']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.config import BuildConfig

__all__ = ["PROCESS_VERSION", "build_settings", "settings_changes", "settings_sha256"]

PROCESS_VERSION = 1

# Fields of each model's config that are not measurement settings: filter bounds (applied to
# recorded signals) and batching. Any other field, including ones added later, is a setting.
_NOT_SETTINGS = frozenset({
    "min_speech_ratio", "max_wer", "max_cer", "languages", "min_confidence", "min_words",
    "min_bandwidth_hz", "min_dnsmos_ovrl", "max_batch_audio_s", "model_sharing",
})
_DISTRIBUTIONS = ("numpy", "soundfile", "soxr")


def _libraries() -> dict[str, str]:
    import soundfile

    found = {"libsndfile": str(soundfile.__libsndfile_version__)}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return dict(sorted(found.items()))


def _measured(signals: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if signals is None:
        return None
    out = {}
    for model, section in sorted(signals.items()):
        if isinstance(section, Mapping) and section.get("enabled"):
            out[model] = {k: v for k, v in sorted(section.items()) if k not in _NOT_SETTINGS}
    return out


def build_settings(config: BuildConfig,
                   models: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The settings of a build of ``config`` with the signal models ``models`` (what
    ``curate.models.transform.check_models`` describes), as plain JSON data."""
    resolved = config.resolved()
    return {
        "process_version": PROCESS_VERSION,
        "audio": resolved["audio"],
        "signals": _measured(resolved.get("signals")),
        "models": {name: dict(sorted(m.items())) for name, m in sorted((models or {}).items())},
        "libraries": _libraries(),
    }


def settings_sha256(settings: Mapping[str, Any]) -> str:
    data = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def settings_changes(base: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between two builds' settings, one ``name old -> new`` per value, sorted
    (``-`` for a value one side lacks)."""
    a, b = _flat(base), _flat(current)
    return [f"{k} {a.get(k, '-')} -> {b.get(k, '-')}" for k in sorted(set(a) | set(b))
            if a.get(k, "-") != b.get(k, "-")]
