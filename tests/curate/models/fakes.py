"""Recognisers plugged in by dotted path (``tests.curate.models.fakes:<factory>``) in tests."""

from __future__ import annotations

import numpy as np


class EchoRecognizer:
    """Says the same words whatever it hears; refuses digital silence."""

    def __init__(self, words: str) -> None:
        self.model_id = f"echo[{words}]"
        self._words = words

    def transcribe(self, samples: np.ndarray) -> str:
        if not samples.any():
            raise RuntimeError("cannot decode digital silence")
        return self._words


def echo(model_path: str | None = None, *, words: str = "he was not an ill disposed young man"):
    return EchoRecognizer(words)


def not_a_recognizer(model_path: str | None = None):
    return object()


def broken(model_path: str | None = None):
    raise OSError(f"weights not found under {model_path}")


class LengthRecognizer:
    """Says how many samples it heard: ``"n<count>"`` (to see what audio ASR was given)."""

    model_id = "length"

    def transcribe(self, samples: np.ndarray) -> str:
        return f"n{samples.shape[0]}"


def length(model_path: str | None = None):
    return LengthRecognizer()
