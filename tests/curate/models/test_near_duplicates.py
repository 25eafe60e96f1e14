"""``FindNearDuplicates`` on Beam: re-encoded copies of real speech are found and grouped under
the smallest key, distinct utterances are not, and not all pairs are compared."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from curate.fingerprint import fingerprint
from curate.near_duplicates import FindNearDuplicates, NearDuplicate, group_matches
from tests.curate.models.variants import variants


@pytest.fixture(scope="module")
def fingerprints(librivox, espeak):
    """Each LibriVox clip (key ``<clip>/a``) with its seven variants (``<clip>/b-<variant>``),
    and distinct synthetic sentences that must match nothing."""
    out = []
    for key, x in sorted(librivox.items()):
        short = key.rsplit("-", 1)[1]
        out.append((f"{short}/a", fingerprint(x.samples)))
        out += [(f"{short}/b-{n}", fingerprint(y)) for n, y in variants(x.samples).items()]
    sentences = ["the weather was cold and the wind blew across the empty fields all morning",
                 "she opened the old wooden door and walked slowly into the quiet garden",
                 "after dinner they sat by the fire and talked about the long journey ahead"]
    out += [(f"zz-espeak-{i}", fingerprint(espeak(t, "en-us").samples))
            for i, t in enumerate(sentences)]
    return out




def test_every_variant_is_rejected_naming_the_original(fingerprints):
    expected = [(k, k.split("/")[0] + "/a", True, True) for k, _ in fingerprints if "/b-" in k]
    assert len(expected) == 5 * 7
    with TestPipeline() as p:
        found = p | beam.Create(fingerprints) | FindNearDuplicates()
        got = found | beam.Map(lambda d: (d.key, d.kept_key, d.via == d.kept_key,
                                          d.similarity >= 0.85))
        assert_that(got, equal_to(expected))


def test_result_does_not_depend_on_input_order(fingerprints):
    rng = np.random.default_rng(1)
    shuffled = [fingerprints[i] for i in rng.permutation(len(fingerprints))]
    with TestPipeline() as p:
        a = p | "A" >> beam.Create(fingerprints) | "FindA" >> FindNearDuplicates()
        b = p | "B" >> beam.Create(shuffled, reshuffle=True) | "FindB" >> FindNearDuplicates()
        both = ((a | "KA" >> beam.Map(lambda d: (d.key, d)),
                 b | "KB" >> beam.Map(lambda d: (d.key, d))) | beam.CoGroupByKey())
        assert_that(both | beam.MapTuple(lambda k, g: list(g[0]) == list(g[1])),
                    equal_to([True] * 35))


def test_distinct_utterances_alone_give_nothing(fingerprints):
    originals = [(k, fp) for k, fp in fingerprints if "/b-" not in k]
    with TestPipeline() as p:
        found = p | beam.Create(originals) | FindNearDuplicates()
        assert_that(found, equal_to([]))


def test_groups_keep_the_smallest_key_and_say_through_whom():
    found = group_matches([("c", "d", 0.91), ("b", "c", 0.9), ("x", "y", 0.99)])
    assert found == [
        NearDuplicate(key="c", kept_key="b", similarity=0.9, via="b"),
        NearDuplicate(key="d", kept_key="b", similarity=0.91, via="c"),
        NearDuplicate(key="y", kept_key="x", similarity=0.99, via="x"),
    ]
    assert found[1].detail == "near duplicate of b (similarity 0.910 via c)"
    assert group_matches([]) == []


@dataclasses.dataclass(frozen=True)
class _Example:
    key: str
    fingerprint: object
    source_uri: str = "src"
    audio_uri: str = "audio"


def test_reject_near_duplicates_keeps_one_of_each_group_and_drops_the_fingerprints(fingerprints):
    from curate.near_duplicates import NEAR_DUPLICATES, RejectNearDuplicates

    chosen = [(k, fp) for k, fp in fingerprints if k.startswith("0870/") or k.startswith("zz-")]
    examples = [_Example(key=k, fingerprint=fp) for k, fp in chosen]
    with TestPipeline() as p:
        out = p | beam.Create(examples) | RejectNearDuplicates()
        kept = out.kept | beam.Map(lambda e: (e.key, e.fingerprint))
        assert_that(kept, equal_to([("0870/a", None)] + [(k, None) for k, _ in chosen
                                                           if k.startswith("zz-")]), label="Kept")
        rejected = out[NEAR_DUPLICATES] | beam.Map(
            lambda r: (r.key, r.reason.value, r.stage.value, r.detail.split(" (")[0]))
        assert_that(rejected, equal_to([(k, "near_duplicate_audio", "dedupe",
                                         "near duplicate of 0870/a")
                                        for k, _ in chosen if "/b-" in k]), label="Rejected")
