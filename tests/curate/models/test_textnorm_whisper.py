"""``text_norm: whisper`` is OpenAI Whisper's English normaliser: the outputs below are those its
own test suite expects (openai/whisper ``tests/test_normalizer.py``), so WERs compare with
published Whisper figures."""

from __future__ import annotations

import pytest

from curate.models.config import TextNorm
from curate.models.textnorm import normalize
from curate.models.wer import score

WHISPER = TextNorm.WHISPER


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("two", "2"),
        ("thirty one", "31"),
        ("nineteen ninety nine", "1999"),
        ("two point five million", "2500000"),
        ("200 thousand dollars", "$200000"),
        ("€52.4 million", "€52400000"),
        ("two double o eight", "2008"),
        ("forty three thousand two hundred and sixty", "43260"),
        ("nineteen fifties", "1950s"),
        ("thirty first", "31st"),
        ("july third twenty twenty", "july 3rd 2020"),
        ("3 point 14", "3.14"),
        ("two point two five dollars", "$2.25"),
        ("ninety percent", "90%"),
        ("seventy six per cent", "76%"),
        ("double oh seven", "007"),
        ("minus 500", "-500"),
        ("two dollars and seventy cents", "$2.70"),
        ("3 cents", "¢3"),
        ("three and a half million", "3500000"),
        ("b747", "b 747"),
        ("mobilisation", "mobilization"),  # the British-to-American spelling map
        ("Let's", "let us"),
        ("he's like", "he is like"),
        ("she's been like", "she has been like"),
        ("10km", "10 km"),
        ("RC232", "rc 232"),
        ("Mr. Park visited Assoc. Prof. Kim Jr.", "mister park visited associate professor kim junior"),
    ],
)
def test_known_whisper_outputs(text, normal):
    assert normalize(text, WHISPER) == normal


def test_fillers_brackets_and_punctuation_go():
    assert normalize("Um, [laughs] I said (quietly) hmm: ill-disposed!", WHISPER) == \
        "i said ill disposed"


def test_both_sides_normalised_alike_before_scoring():
    s = score("Mr. Dashwood paid twenty five dollars for the colour.",
              "mister dashwood paid $25 for the color", WHISPER)
    assert s.wer == 0.0 and s.cer == 0.0
    # the project's own english normaliser reads digits as words instead: not comparable
    assert score("he paid $25", "he paid twenty five dollars", TextNorm.ENGLISH).wer > 0


def test_the_pinned_package_is_whispers_own_rules():
    from curate.models.identity import distribution_version

    assert distribution_version("whisper-normalizer") == "0.1.12"
    assert normalize("cause I dunno", WHISPER) == "cause i dunno"  # later releases change these
