"""Acoustic fingerprints on real read speech: every variant of a clip matches it, other clips do
not. (Here beside the model tests for their real speech; the fingerprint is DSP, no model.)"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from curate.fingerprint import Fingerprint, fingerprint, lsh_keys, similarity
from tests.curate.models.variants import VARIANTS, variants

THRESHOLD = 0.8  # NearDuplicateConfig.min_similarity


@pytest.fixture(scope="module")
def prints(librivox):
    """``{key: (fingerprint, {variant: fingerprint})}`` of the LibriVox clips."""
    return {k: (fingerprint(x.samples), {n: fingerprint(y) for n, y in variants(x.samples).items()})
            for k, x in librivox.items()}


def _offsets(a: Fingerprint, b: Fingerprint) -> list[int]:
    frames_b = dict(lsh_keys(b))
    return sorted({fa - frames_b[k] for k, fa in lsh_keys(a) if k in frames_b})


def test_every_variant_matches_its_original_through_its_lsh_offsets(prints):
    for key, (original, by_variant) in prints.items():
        assert set(by_variant) == set(VARIANTS)
        for name, fp in by_variant.items():
            offsets = _offsets(original, fp)
            assert offsets, (key, name)  # the LSH finds the pair at all
            m = similarity(original, fp, offsets)
            assert m.similarity >= THRESHOLD + 0.1, (key, name, m)
            if name == "trim_300ms":
                assert m.offset in (18, 19), (key, m)  # 300 ms at 16 ms per frame = 18.75


def test_different_utterances_stay_far_below_the_threshold(prints):
    for (ka, (a, _)), (kb, (b, _)) in itertools.combinations(prints.items(), 2):
        m = similarity(a, b, range(-100, 101, 5))
        assert m.similarity < THRESHOLD - 0.15, (ka, kb, m)


def test_gain_changes_nothing_and_the_fingerprint_is_deterministic(librivox):
    x = next(iter(librivox.values())).samples
    assert fingerprint(x) == fingerprint(x.copy())
    assert fingerprint(x * 0.25).words == fingerprint(x).words


def test_silence_is_masked_so_two_silences_do_not_match():
    rng = np.random.default_rng(0)
    quiet = np.zeros(48000, np.float32)
    words, keep = fingerprint(quiet).arrays()
    assert not keep.any()
    assert lsh_keys(fingerprint(quiet)) == []
    noise = rng.standard_normal(48000).astype(np.float32)
    padded = np.concatenate([noise[:8000], quiet])  # mostly silence: its silent frames are masked
    assert similarity(fingerprint(padded), fingerprint(quiet)).overlap == 0


def test_short_and_empty_audio_give_a_fingerprint_not_an_error():
    assert fingerprint(np.zeros(0, np.float32)).frames == 1
    assert fingerprint(np.ones(100, np.float32)).frames == 1
    with pytest.raises(ValueError, match="1-D"):
        fingerprint(np.zeros((10, 2), np.float32))
