"""Run a suite with Great Expectations 1.x in an ephemeral context, one batch per table.

Each table of :mod:`curate.validation.tables` becomes a DataFrame asset of one pandas data
source, and the suite's expectations for that table become a GX suite named
``<suite>.<table>`` validated against it by a ``ValidationDefinition``. Results are stored in the
context's (in-memory) validation results store, which is what the Data Docs site builder renders
(:mod:`curate.validation.docs`); nothing is written anywhere else.

Results use GX's ``SUMMARY`` format with the table's identifying columns as
``unexpected_index_column_names``, so a failed row check names the rows (``key``, ``split``).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from curate.validation.errors import SuiteError
from curate.validation.suites import Expectation, Suite
from curate.validation.tables import INDEX_COLUMNS, Table, Tables

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

__all__ = ["ExpectationOutcome", "SuiteOutcome", "run_suite"]

log = logging.getLogger(__name__)

_PARTIAL_ROWS = 10  # failing rows / values kept per expectation


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectationOutcome:
    expectation: Expectation
    success: bool
    observed: Any  # JSON data: a value, or {unexpected_count, element_count, rows|values}
    kwargs: Mapping[str, Any]  # as evaluated: suite parameters replaced by their values
    error: str | None = None  # GX raised while evaluating it

    def to_failure_dict(self) -> dict[str, Any]:
        e = self.expectation
        out = {
            "expectation": e.type,
            "table": e.table.value,
            "column": e.column,
            "kwargs": _jsonable(self.kwargs),
            "observed": self.observed,
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class SuiteOutcome:
    suite: Suite
    outcomes: tuple[ExpectationOutcome, ...]  # in suite file order
    context: Any  # the GX context holding the stored results, for the Data Docs

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def _jsonable(value: Any) -> Any:
    """JSON data from GX result values: numpy scalars unwrapped, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _observed(result: Mapping[str, Any], column: str | None) -> Any:
    if "observed_value" in result:
        return _jsonable(result["observed_value"])
    if "unexpected_count" in result:
        out: dict[str, Any] = {
            "unexpected_count": _jsonable(result.get("unexpected_count")),
            "element_count": _jsonable(result.get("element_count")),
        }
        rows = result.get("partial_unexpected_index_list") or []
        if rows and isinstance(rows[0], Mapping):
            # GX puts the checked value first; the identifying columns read better first.
            rows = [{**{k: v for k, v in r.items() if k != column}, **{k: v for k, v in r.items()
                     if k == column}} for r in rows[:_PARTIAL_ROWS]]
            out["rows"] = _jsonable(rows)
        else:
            out["values"] = _jsonable((result.get("partial_unexpected_list") or [])[:_PARTIAL_ROWS])
        return out
    return _jsonable(dict(result))


def _gx_expectation(suite: Suite, e: Expectation) -> Any:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    try:
        return ExpectationConfiguration(type=e.type, kwargs=dict(e.kwargs),
                                        meta=dict(e.meta)).to_domain_obj()
    except Exception as err:  # GX raises several unrelated types for a bad configuration
        lines = [x.strip() for x in str(err).splitlines() if x.strip()][:4]
        raise SuiteError(
            f"{suite.path}: expectations[{e.index}] ({e.type}): not a valid GX expectation: "
            + ("; ".join(lines) or type(err).__name__)
        ) from err


def _context() -> AbstractDataContext:
    """An in-memory context: no temporary docs site, no progress bars, no usage statistics
    sent anywhere (a gate runs offline as well as online)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def run_suite(
    suite: Suite,
    tables: Tables,
    *,
    parameters: Mapping[str, Any],
    datasource: str = "build",
    run_name: str = "curate",
) -> SuiteOutcome:
    """Validate ``tables`` against ``suite``; ``parameters`` fill the suite's ``$PARAMETER``s."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    missing = sorted(suite.parameters_used() - set(parameters))
    if missing:
        raise SuiteError(f"{suite.path}: no value for suite parameter(s) {', '.join(missing)}")
    gx_expectations = {e.index: _gx_expectation(suite, e) for e in suite.expectations}
    context = _context()
    source = context.data_sources.add_pandas(datasource)
    by_index: dict[int, ExpectationOutcome] = {}
    for table in Table:
        present = set(tables[table].columns)
        wanted = [e for e in suite.for_table(table) if not e.optional or e.column in present]
        if not wanted:
            continue
        batch = source.add_dataframe_asset(table.value).add_batch_definition_whole_dataframe(
            "all rows"
        )
        gx_suite = context.suites.add(
            gx.ExpectationSuite(
                name=f"{suite.name}.{table.value}",
                expectations=[gx_expectations[e.index] for e in wanted],
                meta={"curate": {"table": table.value, "suite_file": suite.path}},
                notes=suite.notes,
            )
        )
        ids = [x.id for x in gx_suite.expectations]
        index_of = dict(zip(ids, (e.index for e in wanted), strict=True))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}.{table.value}", data=batch, suite=gx_suite)
        )
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": _PARTIAL_ROWS,
        }
        if INDEX_COLUMNS[table]:
            result_format["unexpected_index_column_names"] = list(INDEX_COLUMNS[table])
        result = definition.run(
            batch_parameters={"dataframe": tables[table]},
            expectation_parameters=dict(parameters),
            result_format=result_format,
            # run_time given: without it GX parses run_name (a fingerprint prefix) as a date,
            # and dateutil raises OverflowError for some hex strings ("6a2460497284")
            run_id=RunIdentifier(run_name=run_name,
                                 run_time=datetime.datetime.now(datetime.timezone.utc)),
        )
        for r in result.results:
            e = suite.expectations[index_of[r.expectation_config.id]]
            raised = bool(r.exception_info and r.exception_info.get("raised_exception"))
            if not raised and isinstance(r.exception_info, Mapping):
                # Metric errors are reported per metric: {metric id: {raised_exception, ...}}.
                nested = [v for v in r.exception_info.values() if isinstance(v, Mapping)]
                raised = any(v.get("raised_exception") for v in nested)
                message = next((v.get("exception_message") for v in nested
                                if v.get("raised_exception")), None)
            else:
                message = r.exception_info.get("exception_message") if raised else None
            evaluated = dict(r.expectation_config.kwargs)
            by_index[e.index] = ExpectationOutcome(
                expectation=e,
                kwargs={k: v for k, v in evaluated.items() if k in e.bounds},
                success=bool(r.success) and not raised,
                observed=_observed(r.result or {}, e.column) if not raised else {"error": message},
                error=str(message) if raised else None,
            )
    # Optional expectations whose column the build lacks were not run: they are not outcomes.
    outcomes = tuple(by_index[e.index] for e in suite.expectations if e.index in by_index)
    return SuiteOutcome(suite=suite, outcomes=outcomes, context=context)
