"""The sample corpus as the pipeline tests use it: its configs with small shards, so that every
split has several."""

from __future__ import annotations

import os

import yaml

from curate.samples import make_corpus

__all__ = ["small_shard_corpus"]


def small_shard_corpus(root: str, *, utterances: int, seed: int, target_shard_mb: float = 0.4,
                       layouts: tuple[str, ...] = ("librispeech",)) -> str:
    """Make the sample corpus (with its bad inputs) at ``root`` and set ``target_size_mb`` in the
    config of each of ``layouts``; returns ``root``."""
    make_corpus(root, utterances=utterances, seed=seed, with_bad_inputs=True)
    for layout in layouts:
        path = os.path.join(root, "configs", f"{layout}.yaml")
        with open(path) as f:
            config = yaml.safe_load(f)
        config["shards"]["target_size_mb"] = target_shard_mb
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
    return root
