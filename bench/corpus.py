"""The benchmark corpus: made once by the sample generator, cached, and cut into subsets.

Every benchmark reads the corpus through a NeMo JSONL manifest, so a subset of the corpus is just
a manifest with fewer lines over the same audio files, and the floor reads the very rows the
pipeline reads. The corpus lives under ``$CURATE_BENCH_CACHE`` (default
``$TMPDIR/curate-bench``) keyed by its parameters, and is reused by later runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import yaml

from curate.records import Utterance

__all__ = ["Corpus", "Subset", "cache_dir", "ensure_corpus"]

_DONE = ".complete"


def cache_dir() -> str:
    return os.environ.get("CURATE_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), "curate-bench"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Subset:
    """Some rows of a corpus, with a build config reading exactly them."""

    manifest: str
    config: str
    audio_root: str
    utterances: int
    audio_s: float  # duration of the source audio, summed over the rows

    def edited(self, name: str, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Subset:
        """The same rows with ``edit`` applied to each (a JSONL row as a dict), and a config
        reading them: for builds that differ from this one in a known way."""
        with open(self.manifest, encoding="utf-8") as f:
            rows = [edit(json.loads(line)) for line in f]
        manifest = os.path.join(os.path.dirname(self.manifest), f"{name}.jsonl")
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        _write_if_changed(manifest, text)
        with open(self.config, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        data["sources"][0]["path"] = manifest
        config = os.path.join(os.path.dirname(self.config), f"{name}.yaml")
        _write_if_changed(config, yaml.safe_dump(data, sort_keys=False))
        return replace(self, manifest=manifest, config=config)

    def read_utterances(self) -> list[Utterance]:
        """The rows as the JSONL source names them: key = audio file stem, absolute path."""
        out = []
        with open(self.manifest, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                rel = row["audio_filepath"]
                out.append(
                    Utterance(
                        key=os.path.splitext(os.path.basename(rel))[0],
                        audio_uri=os.path.join(self.audio_root, rel),
                        text=row["text"].strip(),
                        speaker=str(row["speaker"]),
                        source_uri=self.manifest,
                    )
                )
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Corpus:
    root: str
    utterances: int
    seed: int

    def subset(self, utterances: int, *, target_shard_mb: float, name: str = "") -> Subset:
        """A manifest of ``utterances`` rows spread evenly over the corpus (every row when
        ``utterances`` is the corpus size), and a JSONL build config reading exactly them."""
        if not 0 < utterances <= self.utterances:
            raise ValueError(f"subset of {utterances} from a corpus of {self.utterances}")
        name = name or f"rows{utterances}"
        work = os.path.join(self.root, "bench")
        os.makedirs(work, exist_ok=True)
        manifest = os.path.join(work, f"{name}.jsonl")
        audio_s = 0.0
        with open(os.path.join(self.root, "manifest.jsonl"), encoding="utf-8") as src:
            every = src.readlines()
        lines = [every[j * len(every) // utterances] for j in range(utterances)]
        for line in lines:
            audio_s += float(json.loads(line)["duration"])
        _write_if_changed(manifest, "".join(lines))
        config = os.path.join(work, f"{name}.yaml")
        with open(os.path.join(self.root, "configs", "jsonl.yaml"), encoding="utf-8") as f:
            data = yaml.safe_load(f)
        data["name"] = "bench"
        data["sources"] = [{"kind": "jsonl", "path": manifest, "audio_root": self.root}]
        data["shards"]["target_size_mb"] = target_shard_mb
        _write_if_changed(config, yaml.safe_dump(data, sort_keys=False))
        return Subset(
            manifest=manifest,
            config=config,
            audio_root=self.root,
            utterances=utterances,
            audio_s=audio_s,
        )


def _write_if_changed(path: str, text: str) -> None:
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def ensure_corpus(
    utterances: int, *, seed: int = 0, min_duration_s: float = 2.0, max_duration_s: float = 15.0
) -> tuple[Corpus, bool]:
    """The cached corpus of these parameters, made now if missing; ``(corpus, made_now)``."""
    from curate.samples import make_corpus

    name = f"corpus-u{utterances}-s{seed}-d{min_duration_s:g}-{max_duration_s:g}"
    root = os.path.join(cache_dir(), name)
    if os.path.exists(os.path.join(root, _DONE)):
        return Corpus(root=root, utterances=utterances, seed=seed), False
    if os.path.exists(root):
        shutil.rmtree(root)  # a generation that died half-way
    os.makedirs(cache_dir(), exist_ok=True)
    make_corpus(
        root,
        utterances=utterances,
        seed=seed,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
    )
    with open(os.path.join(root, _DONE), "w") as f:
        f.write("ok\n")
    return Corpus(root=root, utterances=utterances, seed=seed), True
