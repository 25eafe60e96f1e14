"""Dataset references: ``NAME@v3``, ``NAME@latest``, ``NAME@<commit id or prefix>``.

>>> parse_ref("librispeech-clean@v7")
DatasetRef(name='librispeech-clean', kind=<RefKind.VERSION: 'version'>, value='v7')
>>> parse_ref("librispeech-clean@v7").number
7
>>> str(parse_ref("asr-demo@LATEST"))
'asr-demo@latest'
>>> parse_ref("x@")
Traceback (most recent call last):
...
registry.errors.ReferenceError_: not a valid dataset reference: 'x@' (missing version)
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from registry.errors import ReferenceError_

__all__ = [
    "MIN_COMMIT_PREFIX",
    "DatasetRef",
    "RefKind",
    "parse_ref",
    "validate_dataset_name",
]

MIN_COMMIT_PREFIX = 8  # hex digits
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")  # a lakeFS repository id
_VERSION_RE = re.compile(r"^v(\d+)$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")


class RefKind(str, enum.Enum):
    VERSION = "version"  # vN, a tag
    LATEST = "latest"  # the highest vN
    COMMIT = "commit"  # a commit id or a unique prefix of one


@dataclass(frozen=True, kw_only=True, slots=True)
class DatasetRef:
    name: str
    kind: RefKind
    value: str  # "v3", "latest" or lowercase hex

    @property
    def number(self) -> int | None:
        """N of a ``vN`` reference, else None."""
        return int(self.value[1:]) if self.kind is RefKind.VERSION else None

    def __str__(self) -> str:
        return f"{self.name}@{self.value}"


def validate_dataset_name(name: str, *, ref: str | None = None) -> str:
    """Return ``name`` if it can name a dataset (it is also its lakeFS repository id)."""
    if _NAME_RE.match(name):
        return name
    if len(name) < 3 or len(name) > 63:
        why = f"name '{name}' must be 3-63 characters long"
    else:
        why = f"name '{name}' may only use a-z, 0-9 and '-', and must start with a letter or digit"
    if ref is not None:
        raise ReferenceError_(f"not a valid dataset reference: {ref!r} ({why})")
    raise ReferenceError_(f"not a valid dataset name: {why}")


def parse_ref(text: str) -> DatasetRef:
    """Parse ``NAME@VERSION``; ReferenceError_ naming the bad part otherwise."""

    def bad(why: str) -> ReferenceError_:
        return ReferenceError_(f"not a valid dataset reference: {text!r} ({why})")

    text = str(text)
    if "@" not in text:
        raise bad("missing '@VERSION', e.g. 'NAME@v1', 'NAME@latest' or 'NAME@<commit id>'")
    name, _, version = text.strip().partition("@")
    if not name:
        raise bad("missing dataset name")
    if not version:
        raise bad("missing version")
    if "@" in version:
        raise bad("more than one '@'")
    version = version.lower()
    if version == "latest":
        kind = RefKind.LATEST
    elif m := _VERSION_RE.match(version):
        digits = m.group(1)
        if int(digits) == 0:
            raise bad("versions start at v1")
        if digits.startswith("0"):
            raise bad(f"write 'v{int(digits)}', without leading zeros")
        kind = RefKind.VERSION
    elif _HEX_RE.match(version):
        if len(version) < MIN_COMMIT_PREFIX:
            raise bad(
                f"commit id prefix '{version}' is shorter than {MIN_COMMIT_PREFIX} hex digits"
            )
        if len(version) > 64:
            raise bad(f"commit id '{version}' is longer than 64 hex digits")
        kind = RefKind.COMMIT
    else:
        raise bad(f"version '{version}' is not vN, 'latest' or a commit id")
    validate_dataset_name(name, ref=text)
    return DatasetRef(name=name, kind=kind, value=version)
