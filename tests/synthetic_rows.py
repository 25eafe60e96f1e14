"""Synthetic manifest rows (no audio) at corpus scale, and the shard plan the build would make.

Rows look like a LibriSpeech-style corpus: ``<speaker>-<chapter>-<n>`` keys, 10 000 speakers,
durations log-normal around 10 s (0.3 to 25 s), and the size of each serialised example as
16 kHz mono FLAC at about 18 kB/s plus ~400 bytes of text, signals and Example framing.

``python -m tests.synthetic_rows N [--reverse]`` prints the sha256 of the plan of ``N`` rows:
tests run it in a fresh interpreter with another ``PYTHONHASHSEED`` to show the plan does not
depend on the process.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["FLAC_BYTES_PER_S", "Plan", "Row", "plan", "plan_digest", "synthetic_rows"]

FLAC_BYTES_PER_S = 18_000  # 16 kHz, 16-bit mono speech compresses to ~55 % of 32 kB/s
EXAMPLE_OVERHEAD_BYTES = 400


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    """The two fields ``assign_split`` reads from a ``StagedExample``, and its staged size."""

    key: str
    speaker: str
    length: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    split: list[str]  # per row
    shard: list[int]  # per row, within its split
    num_shards: dict[str, int]


def synthetic_rows(n: int, *, seed: int = 0, speakers: int = 10_000) -> list[Row]:
    rng = np.random.default_rng(seed)
    spk = rng.integers(0, speakers, size=n)
    chapter = rng.integers(0, 40, size=n)
    seconds = np.clip(rng.lognormal(mean=np.log(10.0), sigma=0.6, size=n), 0.3, 25.0)
    length = (seconds * FLAC_BYTES_PER_S).astype(np.int64) + EXAMPLE_OVERHEAD_BYTES
    return [
        Row(key=f"{s}-{s * 100 + c}-{i:07d}", speaker=str(s), length=int(b))
        for i, (s, c, b) in enumerate(zip(spk.tolist(), chapter.tolist(), length.tolist()))
    ]


def plan(rows: list[Row], split_cfg=None, shard_cfg=None) -> Plan:
    """What ``AssignSplit`` and ``WriteShards`` compute, without Beam: split per row, shard
    count per split from its total bytes, shard per row."""
    from curate.config import ShardConfig, SplitConfig
    from curate.shards import assign_split, num_shards, shard_index

    split_cfg = split_cfg or SplitConfig()
    shard_cfg = shard_cfg or ShardConfig()
    splits = [assign_split(r, split_cfg) for r in rows]
    totals: dict[str, list[int]] = {}
    for r, s in zip(rows, splits):
        t = totals.setdefault(s, [0, 0])
        t[0] += r.length
        t[1] += 1
    counts = {s: num_shards(b, n, shard_cfg) for s, (b, n) in totals.items()}
    shards = [shard_index(r.key, counts[s], shard_cfg) for r, s in zip(rows, splits)]
    return Plan(split=splits, shard=shards, num_shards=counts)


def plan_digest(rows: list[Row], p: Plan) -> str:
    """sha256 over ``key, split, shard`` lines sorted by key: independent of row order."""
    h = hashlib.sha256()
    for key, split, shard in sorted(zip((r.key for r in rows), p.split, p.shard)):
        h.update(f"{key}\t{split}\t{shard}\n".encode())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    rows = synthetic_rows(int(argv[0]))
    if "--reverse" in argv:
        rows.reverse()
    print(plan_digest(rows, plan(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
