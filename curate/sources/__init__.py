"""Source readers: turn manifests and directory layouts into :class:`~curate.records.Utterance`.

``p | ReadSources(config.sources)`` gives the utterances (main output ``UTTERANCES``) and the
source-stage rejections (output ``REJECTED``); every input is exactly one of the two. Layouts:
:mod:`~curate.sources.librispeech`, :mod:`~curate.sources.manifests` (NeMo jsonl, Common Voice
tsv/csv), :mod:`~curate.sources.kaldi`. Path helpers for local paths and URIs:
:mod:`~curate.sources.paths`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REJECTED", "UTTERANCES", "ReadSources", "check_sources"]


def __getattr__(name: str) -> Any:
    # The readers import Apache Beam; the path helpers (curate.sources.paths), which the
    # registry and the output checks use, must not pull it in with the package.
    if name in __all__:
        from curate.sources import read

        return getattr(read, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
