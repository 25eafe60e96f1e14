"""``FindNearDuplicates``: the same recording found again across a whole build, on Beam.

Input: ``(key, Fingerprint)`` for every accepted utterance (:mod:`curate.fingerprint`). Output:
``(key, kept_key, similarity, via)`` for each utterance to reject as ``near_duplicate_audio``:
every group of utterances linked by matches keeps its smallest key. ``via`` is the group member
whose match brought ``key`` in (``kept_key`` itself when the two matched directly; ``similarity``
is that match's). Pairs are never all compared:

1. ``LshKeys``: each fingerprint gives its LSH keys, ``(lsh_key, (key, frame))``.
2. ``Buckets``: group by LSH key. A bucket with more than ``max_bucket`` members is a key too
   common to say anything (counted, skipped); in the others each pair of members gets one
   vote for the offset between them, ``((a, b), offset)`` with ``a < b``.
3. ``Votes``: pairs with at least ``min_votes`` votes become candidates, with their most voted
   offsets.
4. ``Verify``: the two fingerprints are joined to each candidate (two ``CoGroupByKey``), compared
   around the voted offsets, and kept as a match when the similarity reaches ``min_similarity``
   over at least ``min_overlap`` of the shorter clip's sounding frames.
5. ``Groups``: matches (few: one per near-duplicate pair) are joined into connected groups on one
   worker (union-find, about 100 bytes per match) and each member but the smallest is rejected.

Beam counters (namespace ``curate_near_dup``): ``fingerprints``, ``bucket_pairs`` (votes cast),
``skipped_buckets``, ``candidates`` (fingerprint comparisons), ``matches``, ``rejected``.
Everything is a function of the set of inputs: sorted members, smallest offsets on ties, groups
rooted at the smallest key, so the output does not depend on the runner or worker count.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from curate.errors import Reason, Stage
from curate.fingerprint import Fingerprint, lsh_keys, similarity
from curate.records import Rejection

__all__ = [
    "NEAR_DUPLICATES",
    "FindNearDuplicates",
    "NearDuplicate",
    "NearDuplicateConfig",
    "RejectNearDuplicates",
    "group_matches",
]

NEAR_DUPLICATES = "near_duplicates"  # the output of rejections of RejectNearDuplicates

_NS = "curate_near_dup"


@dataclass(frozen=True, kw_only=True, slots=True)
class NearDuplicateConfig:
    min_similarity: float = 0.8  # share of equal fingerprint bits; unrelated speech ~0.5
    min_overlap: float = 0.5  # of the shorter clip's sounding frames
    min_votes: int = 3  # shared LSH keys at one offset (+-2 frames) before a comparison
    max_bucket: int = 64  # members of an LSH bucket beyond which it is skipped
    offsets_tried: int = 3  # most voted offsets compared per candidate


@dataclass(frozen=True, kw_only=True, slots=True)
class NearDuplicate:
    key: str  # rejected
    kept_key: str
    similarity: float
    via: str  # the member it matched (== kept_key for a direct match)

    @property
    def detail(self) -> str:
        via = "" if self.via == self.kept_key else f" via {self.via}"
        return f"near duplicate of {self.kept_key} (similarity {self.similarity:.3f}{via})"


def _keys(element: tuple[str, Fingerprint]) -> Iterator[tuple[int, tuple[str, int]]]:
    key, fp = element
    Metrics.counter(_NS, "fingerprints").inc()
    for lsh_key, frame in lsh_keys(fp):
        yield lsh_key, (key, frame)


class _BucketPairsFn(beam.DoFn):
    def __init__(self, max_bucket: int) -> None:
        self._max_bucket = max_bucket

    def setup(self) -> None:
        self._pairs = Metrics.counter(_NS, "bucket_pairs")
        self._skipped = Metrics.counter(_NS, "skipped_buckets")

    def process(self, element):
        _, members = element
        members = sorted(set(members))
        if len(members) > self._max_bucket:
            self._skipped.inc()
            return
        emitted = 0
        for i, (a, frame_a) in enumerate(members):
            for b, frame_b in members[i + 1 :]:
                if a != b:
                    emitted += 1
                    yield (a, b), frame_a - frame_b  # b's frame i is a's frame i + offset
        self._pairs.inc(emitted)


def _candidate(element, min_votes: int, tried: int) -> Iterator[tuple[str, tuple[str, list[int]]]]:
    (a, b), offsets = element
    votes = collections.Counter(offsets)
    # An offset's support: votes within +-2 frames (one trim can fall between two frames).
    support = {o: sum(votes.get(o + d, 0) for d in range(-2, 3)) for o in votes}
    best = sorted(support, key=lambda o: (-support[o], abs(o), o))
    if support[best[0]] >= min_votes:
        yield a, (b, best[:tried])


def _with_first(element) -> Iterator[tuple[str, tuple[str, Fingerprint, list[int]]]]:
    a, grouped = element
    fps = list(grouped["fp"])
    if not fps:
        return
    for b, offsets in grouped["pairs"]:
        yield b, (a, fps[0], offsets)


class _VerifyFn(beam.DoFn):
    def __init__(self, cfg: NearDuplicateConfig) -> None:
        self._cfg = cfg

    def setup(self) -> None:
        self._candidates = Metrics.counter(_NS, "candidates")
        self._matches = Metrics.counter(_NS, "matches")

    def process(self, element):
        b, grouped = element
        fps = list(grouped["fp"])
        if not fps:
            return
        fp_b = fps[0]
        kept_b = int(fp_b.arrays()[1].sum())
        for a, fp_a, offsets in sorted(grouped["pairs"], key=lambda p: p[0]):
            self._candidates.inc()
            m = similarity(fp_a, fp_b, offsets)
            shorter = min(kept_b, int(fp_a.arrays()[1].sum()))
            enough = m.overlap >= self._cfg.min_overlap * shorter
            if m.similarity >= self._cfg.min_similarity and enough:
                self._matches.inc()
                yield a, b, round(m.similarity, 6)


def group_matches(matches: Iterable[tuple[str, str, float]]) -> list[NearDuplicate]:
    """Connected groups of matched pairs; every member but the group's smallest key is a
    :class:`NearDuplicate` of it, sorted by key.

    >>> [d.detail for d in group_matches([("b", "c", 0.9), ("a", "b", 0.95)])]
    ['near duplicate of a (similarity 0.950)', 'near duplicate of a (similarity 0.900 via b)']
    """
    edges = sorted(set(matches))
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b, _ in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    neighbours: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
    direct: dict[tuple[str, str], float] = {}
    for a, b, s in edges:
        direct[(a, b)] = max(s, direct.get((a, b), 0.0))
        neighbours[a].append((s, b))
        neighbours[b].append((s, a))
    out = []
    for member in sorted(parent):
        kept = root(member)
        if member == kept:
            continue
        if (kept, member) in direct:
            out.append(NearDuplicate(key=member, kept_key=kept, similarity=direct[(kept, member)],
                                     via=kept))
        else:
            s, other = min(neighbours[member], key=lambda t: (-t[0], t[1]))  # best, smallest
            out.append(NearDuplicate(key=member, kept_key=kept, similarity=s, via=other))
    return out


def _emit_groups(matches: list[tuple[str, str, float]]) -> Iterator[NearDuplicate]:
    found = group_matches(matches)
    Metrics.counter(_NS, "rejected").inc(len(found))
    yield from found


class FindNearDuplicates(beam.PTransform):
    """``(key, Fingerprint)`` -> :class:`NearDuplicate` for each utterance to reject (see the
    module docstring)."""

    def __init__(self, cfg: NearDuplicateConfig | None = None) -> None:
        super().__init__()
        self._cfg = cfg or NearDuplicateConfig()

    def expand(self, fingerprints):
        cfg = self._cfg
        votes = (
            fingerprints
            | "LshKeys" >> beam.FlatMap(_keys)  # (lsh_key, (key, frame))
            | "Buckets" >> beam.GroupByKey()  # (lsh_key, [(key, frame)])
            | "BucketPairs" >> beam.ParDo(_BucketPairsFn(cfg.max_bucket))  # ((a, b), offset)
            | "Votes" >> beam.GroupByKey()  # ((a, b), [offset])
            | "Candidates" >> beam.FlatMap(_candidate, cfg.min_votes, cfg.offsets_tried)
        )  # (a, (b, offsets))
        first = (
            {"fp": fingerprints, "pairs": votes}
            | "JoinFirst" >> beam.CoGroupByKey()
            | "WithFirst" >> beam.FlatMap(_with_first)
        )  # (b, (a, fp_a, offsets))
        matches = (
            {"fp": fingerprints, "pairs": first}
            | "JoinSecond" >> beam.CoGroupByKey()
            | "Verify" >> beam.ParDo(_VerifyFn(cfg))
        )  # (a, b, similarity)
        return (
            matches
            | "AllMatches" >> beam.combiners.ToList()
            | "Groups" >> beam.FlatMap(_emit_groups)
        )  # NearDuplicate


def _keyed_fingerprint(example: Any) -> tuple[str, Fingerprint]:
    return example.key, example.fingerprint


def _by_key(item: Any) -> tuple[str, Any]:
    return item.key, item


def _keep_or_reject(element):
    """``(key, {"example": [e], "duplicate": [NearDuplicate]})`` -> the example (without its
    fingerprint, which has done its work), or its Rejection on ``NEAR_DUPLICATES``."""
    _, grouped = element
    for example in grouped["example"]:
        found = list(grouped["duplicate"])
        if not found:
            yield dataclasses.replace(example, fingerprint=None)
            continue
        Metrics.counter("curate", f"rejected.{Reason.NEAR_DUPLICATE_AUDIO.value}").inc()
        yield beam.pvalue.TaggedOutput(NEAR_DUPLICATES, Rejection(
            key=example.key, source_uri=example.source_uri, audio_uri=example.audio_uri,
            stage=Stage.DEDUPE, reason=Reason.NEAR_DUPLICATE_AUDIO, detail=found[0].detail,
        ))


class RejectNearDuplicates(beam.PTransform):
    """Examples (anything with ``key``, ``fingerprint``, ``source_uri``, ``audio_uri``, a
    dataclass) -> ``{"kept": examples without their fingerprint, NEAR_DUPLICATES: Rejection}``:
    :class:`FindNearDuplicates` over the whole collection, and each near duplicate rejected as
    ``near_duplicate_audio``, its detail naming the kept key and the similarity."""

    def __init__(self, cfg: NearDuplicateConfig | None = None) -> None:
        super().__init__()
        self._cfg = cfg or NearDuplicateConfig()

    def expand(self, examples):
        found = (
            examples
            | "Fingerprints" >> beam.Map(_keyed_fingerprint)  # (key, Fingerprint)
            | "Find" >> FindNearDuplicates(self._cfg)  # NearDuplicate
            | "DuplicateByKey" >> beam.Map(_by_key)  # (key, NearDuplicate)
        )
        return (
            {"example": examples | "ExampleByKey" >> beam.Map(_by_key), "duplicate": found}
            | "Join" >> beam.CoGroupByKey()  # (key, {"example": [e], "duplicate": [d]})
            | "KeepOrReject" >> beam.FlatMap(_keep_or_reject).with_outputs(
                NEAR_DUPLICATES, main="kept")
        )
