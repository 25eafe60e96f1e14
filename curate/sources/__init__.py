"""Source readers: turn manifests and directory layouts into :class:`~curate.records.Utterance`.

``p | ReadSources(config.sources)`` gives the utterances (main output ``UTTERANCES``) and the
source-stage rejections (output ``REJECTED``); every input is exactly one of the two. Layouts:
:mod:`~curate.sources.librispeech`, :mod:`~curate.sources.manifests` (NeMo jsonl, Common Voice
tsv/csv), :mod:`~curate.sources.kaldi`. Path helpers for local paths and URIs:
:mod:`~curate.sources.paths`.
"""

from __future__ import annotations

from curate.sources.read import REJECTED, UTTERANCES, ReadSources, check_sources

__all__ = ["REJECTED", "UTTERANCES", "ReadSources", "check_sources"]
