"""JSON that every reader accepts: no ``NaN``, ``Infinity`` or ``-Infinity``.

Python's :mod:`json` writes those tokens by default, and strict readers (browsers, Go, jq,
most JSON Schema tools) refuse the whole document. Files a build writes must never hold a
non-finite number (the config refuses them, signals are finite by construction), so they are
dumped with ``allow_nan=False`` and a bug fails loudly. Reports assembled from other libraries
(validation results, the webhook's answers, ``--json`` output) go through :func:`dumps`, which
writes a non-finite float as ``null``.

>>> dumps({"observed": float("nan"), "bound": float("inf"), "n": [1.5, -float("inf")]})
'{"bound": null, "n": [1.5, null], "observed": null}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "finite"]


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (also inside mappings, lists and tuples) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` of :func:`finite` ``(value)``, sorted keys by default, strict."""
    kwargs.setdefault("sort_keys", True)
    return json.dumps(finite(value), allow_nan=False, **kwargs)
