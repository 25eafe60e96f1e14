"""Word and character error rates by Levenshtein distance (our own, numpy; no jiwer).

WER is ``(substitutions + deletions + insertions) / reference words`` over the words of the
normalised texts (:mod:`curate.models.textnorm`); CER is the same over the characters of the
normalised texts, single spaces between words included. An empty reference counts as one
unit, so a hypothesis against it scores its length: ``wer("", "a b") == 2.0``, and
``wer("", "") == 0.0``. Rates can exceed 1 when the hypothesis has many insertions.

>>> score("The cat sat.", "the cat sat on the mat")
Score(wer=1.0, cer=1.0, word_errors=3, ref_words=3, char_errors=11, ref_chars=11)
>>> edit_distance("kitten", "sitting")
3
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from curate.models.config import TextNorm
from curate.models.textnorm import normalize

__all__ = ["Score", "cer", "edit_distance", "score", "wer"]


def _codes(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    table: dict[Hashable, int] = {}
    r = np.fromiter((table.setdefault(t, len(table)) for t in ref), dtype=np.int64, count=len(ref))
    h = np.fromiter((table.setdefault(t, len(table)) for t in hyp), dtype=np.int64, count=len(hyp))
    return r, h


def edit_distance(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Levenshtein distance between two sequences (unit cost for each edit).

    One numpy pass per reference token: substitutions and deletions come from the previous row;
    insertions, which chain along the row, are a running minimum of ``cand[k] - k`` plus ``j``.
    """
    if len(ref) == 0 or len(hyp) == 0:
        return max(len(ref), len(hyp))
    r, h = _codes(ref, hyp)
    cols = np.arange(len(h) + 1, dtype=np.int64)
    prev = cols.copy()
    cand = np.empty_like(prev)
    for i, token in enumerate(r, start=1):
        cand[0] = i
        np.minimum(prev[:-1] + (h != token), prev[1:] + 1, out=cand[1:])
        prev = np.minimum.accumulate(cand - cols) + cols
    return int(prev[-1])


@dataclass(frozen=True, kw_only=True, slots=True)
class Score:
    """Error rates of a hypothesis against a reference, with the counts behind them (sum the
    counts over a corpus for its WER; averaging per-utterance rates weights short ones up)."""

    wer: float
    cer: float
    word_errors: int
    ref_words: int
    char_errors: int
    ref_chars: int


def score(reference: str, hypothesis: str, mode: TextNorm = TextNorm.ENGLISH) -> Score:
    """WER and CER of ``hypothesis`` against ``reference`` after :func:`normalize` on both."""
    ref, hyp = normalize(reference, mode), normalize(hypothesis, mode)
    ref_words, hyp_words = ref.split(), hyp.split()
    word_errors = edit_distance(ref_words, hyp_words)
    char_errors = edit_distance(ref, hyp)
    return Score(
        wer=word_errors / max(len(ref_words), 1),
        cer=char_errors / max(len(ref), 1),
        word_errors=word_errors,
        ref_words=len(ref_words),
        char_errors=char_errors,
        ref_chars=len(ref),
    )


def wer(reference: str, hypothesis: str, mode: TextNorm = TextNorm.ENGLISH) -> float:
    """Word error rate after normalisation (see the module docstring)."""
    return score(reference, hypothesis, mode).wer


def cer(reference: str, hypothesis: str, mode: TextNorm = TextNorm.ENGLISH) -> float:
    """Character error rate after normalisation (see the module docstring)."""
    return score(reference, hypothesis, mode).cer
