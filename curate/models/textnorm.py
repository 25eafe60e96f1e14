"""Text normalisation applied to the reference and the hypothesis alike before scoring.

``BASIC`` works for any language: Unicode NFKC, case-folding, bracketed annotations
(``[noise]``, ``<sil>``, ``(laughs)``) removed, hyphens and other punctuation turned into spaces,
apostrophes kept inside words only, whitespace collapsed. ``ENGLISH`` also spells out numbers
(``42`` → ``forty two``, ``3rd`` → ``third``, ``2.5`` → ``two point five``), ``&`` and ``%``,
and expands the titles ``mr``, ``mrs`` and ``dr``, so a reference written with digits is not
penalised against a recogniser that writes words.

``WHISPER`` is OpenAI Whisper's ``EnglishTextNormalizer``, the one behind every published Whisper
WER: bracketed spans and fillers (``um``, ``hmm``) removed, contractions and titles expanded,
spoken numbers and currencies written as digits (``twenty five dollars`` → ``$25``), British
spellings turned American from Whisper's own 1 739-word map. It comes from the
``whisper-normalizer`` package (pinned to 0.1.12; imported on first use), whose English
normaliser and spelling map are Whisper's line for line but for four rules of its own
(``kinda``, ``sorta``, ``dunno``, ``cause``), which are taken out again here: with them, WERs
would not compare with Whisper's.

>>> normalize("Mr. Smith's 2nd car—it cost $1,500 & more!", TextNorm.ENGLISH)
"mister smith's second car it cost one thousand five hundred and more"
>>> normalize("L'été [bruit] arrive", TextNorm.BASIC)
"l'été arrive"
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from curate.models.config import TextNorm

__all__ = ["TextNorm", "normalize", "number_to_words", "whisper_normalizer", "words"]

_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)|\{[^}]*\}")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_NOT_WORD = re.compile(r"[^\w']+|_")
_EDGE_APOSTROPHES = re.compile(r"(?<!\w)'+|'+(?!\w)")
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th)?")
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor"}

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        out.append(_TENS[n // 10])
        n %= 10
        if n:
            out.append(_ONES[n])
    elif n or not out:
        out.append(_ONES[n])
    return out


def number_to_words(n: int) -> str:
    """A non-negative integer in English words, without 'and': ``101`` → ``one hundred one``.
    Numbers of 10**15 and more are read digit by digit."""
    if n < 0:
        raise ValueError(f"negative number: {n}")
    if n >= 10**15:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 1000:
        return " ".join(_below_thousand(n))
    out: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            out += _below_thousand(n // scale) + [name]
            n %= scale
    if n:
        out += _below_thousand(n)
    return " ".join(out)


def _ordinal(cardinal: str) -> str:
    head, _, last = cardinal.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}" if head else last


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0)
    suffix = token[-2:] if token[-2:] in ("st", "nd", "rd", "th") else ""
    token = token[: len(token) - len(suffix)].replace(",", "")
    whole, _, fraction = token.partition(".")
    words = number_to_words(int(whole))
    if suffix and not fraction:
        words = _ordinal(words)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {words} "


@functools.cache
def whisper_normalizer() -> Callable[[str], str]:
    """Whisper's ``EnglishTextNormalizer`` (one per process: it compiles ~100 patterns and loads
    the spelling map; calls are pure functions of the text, safe from many threads)."""
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as e:
        raise ImportError(f"text_norm 'whisper' needs whisper-normalizer==0.1.12 ({e}): "
                          "pip install -e '.[signals]'") from e
    normalizer = EnglishTextNormalizer()
    for pattern in _NOT_WHISPERS:
        normalizer.replacers.pop(pattern, None)
    return normalizer


# Replacement rules whisper-normalizer adds to Whisper's EnglishTextNormalizer.
_NOT_WHISPERS = (r"\bkinda\b", r"\bsorta\b", r"\bdunno\b", r"\bcause\b")


def normalize(text: str, mode: TextNorm = TextNorm.ENGLISH) -> str:
    """``text`` normalised for scoring (see the module docstring): words separated by one space."""
    if mode is TextNorm.WHISPER:
        return " ".join(whisper_normalizer()(text).split())
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    text = _BRACKETED.sub(" ", text)
    if mode is TextNorm.ENGLISH:
        text = text.replace("&", " and ").replace("%", " percent ")
        text = _NUMBER.sub(_spell_number, text)
    text = _NOT_WORD.sub(" ", text)
    text = _EDGE_APOSTROPHES.sub(" ", text)
    tokens = text.split()
    if mode is TextNorm.ENGLISH:
        tokens = [_TITLES.get(t, t) for t in tokens]
    return " ".join(tokens)


def words(text: str, mode: TextNorm = TextNorm.ENGLISH) -> list[str]:
    """The normalised words of ``text``."""
    return normalize(text, mode).split()
