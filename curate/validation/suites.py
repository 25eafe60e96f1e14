"""Suites: GX 1.x expectation suite files, loaded by name (shipped) or by path (yours).

A suite file is an ordinary GX 1.x suite (``ExpectationSuite.to_json_dict()`` without ids) with
two conventions on top, both in ``meta`` so GX itself ignores them:

* each expectation's ``meta.table`` names the table it checks: ``examples`` (the default),
  ``speakers``, ``splits`` or ``dataset`` (see :mod:`curate.validation.tables`);
* the suite's ``meta.curate.drift`` holds the drift thresholds (see
  :class:`curate.validation.drift.DriftThresholds`; missing keys take the defaults there).

Kwargs may use GX suite parameters, filled from the build: ``{"$PARAMETER": "sample_rates_hz"}``
is the list of rates the build config resamples to, ``{"$PARAMETER": "splits"}`` the configured
split names.

>>> suite = load_suite("asr_default")
>>> suite.name, len(suite.expectations) > 10, suite.expectations[0].table.value
('asr_default', True, 'examples')
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from curate.validation.errors import SuiteError
from curate.validation.tables import COLUMNS, Table

__all__ = ["PARAMETERS", "Expectation", "Suite", "load_suite", "resolve_suite_path"]

PARAMETERS: dict[str, str] = {
    "sample_rates_hz": "list of the sample rates the build config allows (audio.sample_rate_hz)",
    "splits": "list of the split names of the build config",
    "languages": "list of the transcript languages the config accepts (signals.langid.languages)",
}
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")
_KWARGS_NOT_SHOWN = frozenset({"column", "batch_id", "result_format", "catch_exceptions"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Expectation:
    """One expectation of a suite, with the table it checks and its position in the file."""

    index: int  # position in the suite file, from 0
    type: str  # GX snake_case name, e.g. "expect_column_values_to_be_between"
    kwargs: Mapping[str, Any]
    table: Table
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def optional(self) -> bool:
        """``meta.optional``: checked only when the build has the column (model signals)."""
        return bool(self.meta.get("optional", False))

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    @property
    def bounds(self) -> dict[str, Any]:
        """The kwargs that say what is expected (min/max, value sets, mostly...)."""
        return {k: v for k, v in self.kwargs.items() if k not in _KWARGS_NOT_SHOWN}

    def label(self) -> str:
        """``splits.num_examples: expect_column_values_to_be_between`` style."""
        where = f"{self.table.value}.{self.column}" if self.column else self.table.value
        return f"{where}: {self.type}"

    def to_gx_dict(self) -> dict[str, Any]:
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Suite:
    name: str
    path: str
    sha256: str  # of the file's bytes: which exact suite a result came from
    expectations: tuple[Expectation, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    notes: str | None = None

    @property
    def drift_config(self) -> Mapping[str, Any]:
        curate = self.meta.get("curate", {})
        return curate.get("drift", {}) if isinstance(curate, Mapping) else {}

    def for_table(self, table: Table) -> list[Expectation]:
        return [e for e in self.expectations if e.table is table]

    def parameters_used(self) -> set[str]:
        return {p for e in self.expectations for p in _parameters_in(e.kwargs)}


def resolve_suite_path(name_or_path: str) -> str:
    """A path to an existing file stays a path; anything else must be a shipped suite's name."""
    from expectations import suite_path

    if os.path.isfile(name_or_path):
        return name_or_path
    if os.sep in name_or_path or name_or_path.endswith(".json"):
        raise SuiteError(f"suite file not found: {name_or_path}")
    try:
        return suite_path(name_or_path)
    except KeyError as e:
        raise SuiteError(f"{e.args[0]}; or pass the path of a suite file") from None


def _parameters_in(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        if set(value) == {"$PARAMETER"}:
            return [str(value["$PARAMETER"])]
        return [p for v in value.values() for p in _parameters_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in _parameters_in(v)]
    return []


def _expectation(path: str, index: int, raw: Any) -> Expectation:
    where = f"{path}: expectations[{index}]"
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{where}: expected an object")
    kind = raw.get("type", raw.get("expectation_type"))
    if not isinstance(kind, str) or not kind.startswith("expect_"):
        raise SuiteError(f"{where}: 'type' must name a GX expectation, got {kind!r}")
    kwargs = raw.get("kwargs", {})
    meta = raw.get("meta") or {}
    if not isinstance(kwargs, Mapping) or not isinstance(meta, Mapping):
        raise SuiteError(f"{where} ({kind}): 'kwargs' and 'meta' must be objects")
    table_name = meta.get("table", Table.EXAMPLES.value)
    try:
        table = Table(table_name)
    except ValueError:
        known = ", ".join(t.value for t in Table)
        raise SuiteError(
            f"{where} ({kind}): meta.table {table_name!r} is not one of {known}"
        ) from None
    optional = meta.get("optional", False)
    if not isinstance(optional, bool):
        raise SuiteError(f"{where} ({kind}): meta.optional must be true or false")
    for key in _COLUMN_KWARGS:
        names = kwargs.get(key)
        for name in names if isinstance(names, list) else [names] if names is not None else []:
            if name not in COLUMNS[table] and not optional:
                raise SuiteError(
                    f"{where} ({kind}): table {table.value!r} has no column {name!r} "
                    f"(columns: {', '.join(COLUMNS[table])})"
                )
    for parameter in _parameters_in(kwargs):
        if parameter not in PARAMETERS:
            raise SuiteError(
                f"{where} ({kind}): unknown suite parameter {parameter!r} "
                f"(known: {', '.join(sorted(PARAMETERS))})"
            )
    return Expectation(index=index, type=kind, kwargs=dict(kwargs), table=table, meta=dict(meta))


def load_suite(name_or_path: str) -> Suite:
    """Load a shipped suite by name (``asr_default``) or any suite file by path.

    Checks what can be checked before any data is read: JSON syntax, expectation names, tables,
    columns and parameters; GX itself checks the kwargs when the suite runs.
    """
    path = resolve_suite_path(name_or_path)
    try:
        with open(path, "rb") as f:
            raw_bytes = f.read()
        data = json.loads(raw_bytes)
    except OSError as e:
        raise SuiteError(f"{path}: cannot read suite ({e.strerror})") from e
    except ValueError as e:
        raise SuiteError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, Mapping) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"{path}: not a GX suite (needs an 'expectations' list)")
    name = data.get("name") or data.get("expectation_suite_name")
    if not isinstance(name, str) or not name:
        name = os.path.splitext(os.path.basename(path))[0]
    if not data["expectations"]:
        raise SuiteError(f"{path}: the suite has no expectations")
    meta = data.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise SuiteError(f"{path}: 'meta' must be an object")
    notes = data.get("notes")
    return Suite(
        name=name,
        path=os.path.abspath(path),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        expectations=tuple(_expectation(path, i, e) for i, e in enumerate(data["expectations"])),
        meta=dict(meta),
        notes=notes if isinstance(notes, str) else None,
    )
