"""Pickling of the small frozen dataclasses that cross a Beam shuffle once per example.

Beam encodes an element of a type it has no coder for with :mod:`pickle`. A frozen dataclass
with ``__slots__`` pickles through the ``__getstate__`` and ``__setstate__`` that
:mod:`dataclasses` gives it, which call :func:`dataclasses.fields` on every call; a build on a
base moves each carried example's records through several shuffles, and those calls were a
visible share of its cost per carried example. :func:`fast_pickle` gives the class a state
that is the tuple of its field values, read with a precomputed getter.

>>> from dataclasses import dataclass
>>> import pickle
>>> @fast_pickle
... @dataclass(frozen=True, kw_only=True, slots=True)
... class Point:
...     x: int
...     y: int = 0
>>> pickle.loads(pickle.dumps(Point(x=1, y=2)))
Point(x=1, y=2)
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, TypeVar

__all__ = ["fast_pickle"]

T = TypeVar("T")


def fast_pickle(cls: type[T]) -> type[T]:
    """``cls`` (a dataclass with slots) pickled as the tuple of its field values."""
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    get = operator.attrgetter(*names)
    one = len(names) == 1  # attrgetter of one name returns the value, not a tuple

    def state(self: Any) -> tuple[Any, ...]:
        return (get(self),) if one else get(self)

    def setstate(self: Any, values: tuple[Any, ...]) -> None:
        for name, value in zip(names, values, strict=True):
            object.__setattr__(self, name, value)

    cls.__getstate__ = state  # type: ignore[attr-defined]
    cls.__setstate__ = setstate  # type: ignore[attr-defined]
    return cls
