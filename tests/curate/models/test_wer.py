"""WER and CER by our own edit distance, checked against a plain dynamic programme."""

from __future__ import annotations

import random

import pytest

from curate.models.config import TextNorm
from curate.models.wer import cer, edit_distance, score, wer


def _reference_distance(a, b) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[:], i
        for j, y in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x != y))
    return row[-1]


def test_edit_distance_matches_the_textbook_programme_on_random_sequences():
    rng = random.Random(0)
    for _ in range(2000):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        assert edit_distance(a, b) == _reference_distance(a, b), (a, b)


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("a b c d", "a b c d", 0.0),
        ("a b c d", "a x c d", 0.25),  # one substitution
        ("a b c d", "a c d", 0.25),  # one deletion
        ("a b c d", "a b b c d", 0.25),  # one insertion
        ("a b c d", "", 1.0),
        ("a b", "c d e f", 2.0),  # more errors than reference words
        ("", "", 0.0),
        ("", "a b", 2.0),  # an empty reference counts as one word
    ],
)
def test_wer_counts_substitutions_deletions_and_insertions(ref, hyp, expected):
    assert wer(ref, hyp, TextNorm.BASIC) == pytest.approx(expected)


def test_the_same_normalisation_is_applied_to_reference_and_hypothesis():
    reference = "Mr. Dashwood paid $20, on the 3rd!"
    assert wer(reference, "mister dashwood paid twenty on the third") == 0
    assert wer("HELLO, World", "hello world") == 0


def test_cer_counts_characters_including_the_spaces_between_words():
    s = score("abc def", "abd def", TextNorm.BASIC)
    assert (s.char_errors, s.ref_chars) == (1, 7)
    assert cer("abc def", "abcdef", TextNorm.BASIC) == pytest.approx(1 / 7)


def test_score_keeps_the_counts_for_corpus_level_rates():
    s = score("the cat sat on the mat", "the cat sat on a hat")
    assert (s.word_errors, s.ref_words) == (2, 6)
    assert s.wer == pytest.approx(2 / 6)
