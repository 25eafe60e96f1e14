"""Text normalisation shared by reference and hypothesis."""

from __future__ import annotations

import pytest

from curate.models.config import TextNorm
from curate.models.textnorm import normalize, number_to_words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty two"),
        (101, "one hundred one"),
        (1500, "one thousand five hundred"),
        (2024, "two thousand twenty four"),
        (1_000_001, "one million one"),
    ],
)
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Hello, World!", "hello world"),
        ("don't  STOP-believing", "don't stop believing"),
        ("'quoted' words", "quoted words"),
        ("it cost $1,500 & 20% more", "it cost one thousand five hundred and twenty percent more"),
        ("the 1st, 2nd, 3rd and 21st", "the first second third and twenty first"),
        ("pi is 3.14", "pi is three point one four"),
        ("Mr. and Mrs. Dashwood met Dr. Smith", "mister and missus dashwood met doctor smith"),
        ("yes [noise] <sil> (laughs) no", "yes no"),
        ("it\u2019s ﬁne", "it's fine"),  # curly apostrophe, ligature (NFKC)
    ],
)
def test_english_normalisation(text, normal):
    assert normalize(text, TextNorm.ENGLISH) == normal


def test_basic_normalisation_keeps_digits_and_non_english_words():
    text = "Ça coûte 20 €, n'est-ce pas ?"
    assert normalize(text, TextNorm.BASIC) == "ça coûte 20 n'est ce pas"
    assert normalize("Straße", TextNorm.BASIC) == "strasse"  # case-folding, as str.casefold


def test_normalisation_is_idempotent():
    for text in ("Mr. Smith's 2nd car, 1,500 km!", "L'été [bruit] arrive"):
        once = normalize(text)
        assert normalize(once) == once
