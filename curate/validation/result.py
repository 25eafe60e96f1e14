"""``validation/result.json``: the verdict of one validation, what ``curate register`` checks.

::

    {"schema_version": 1, "suite": "asr_default", "suite_sha256": "…",
     "dataset": "…", "fingerprint": "<the build's>",
     "success": false,                      # expectations and drift together
     "evaluated": 14, "successful": 13, "failed": 1,
     "failed_expectations": [{"expectation": "expect_column_values_to_be_between",
                              "table": "examples", "column": "clipping_ratio",
                              "kwargs": {"min_value": 0.0, "max_value": 0.01},
                              "observed": {"unexpected_count": 1, "element_count": 61,
                                           "rows": [{"key": "…", "split": "train",
                                                     "clipping_ratio": 0.41}]}}],
     "drift": null | {"against": "NAME@v3", "success": true, "signals": {…}, "splits": {…}, …},
     "docs": "validation/docs/index.html"}
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from curate import strict_json
from curate.errors import CurateError
from curate.layout import INFO_FILE, VALIDATION_DOCS_INDEX, VALIDATION_RESULT, info_digest
from curate.validation import storage

__all__ = [
    "SCHEMA_VERSION",
    "NotValidatedError",
    "ValidationResult",
    "describe_expected",
    "describe_observed",
    "failure_rows",
    "read_result",
    "require_passed",
]

SCHEMA_VERSION = 1


class NotValidatedError(CurateError):
    """A build that has no passing validation of its current contents (exit 1)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationResult:
    suite: str
    success: bool
    evaluated: int
    successful: int
    failed: int
    failed_expectations: tuple[Mapping[str, Any], ...] = ()
    drift: Mapping[str, Any] | None = None
    dataset: str = ""
    fingerprint: str = ""
    suite_sha256: str = ""
    info_sha256: str = ""  # curate.layout.info_digest of the dataset_info.json validated
    docs: str | None = None  # relative to the build directory

    @property
    def expectations_success(self) -> bool:
        return self.failed == 0

    @property
    def drift_success(self) -> bool:
        return self.drift is None or bool(self.drift.get("success"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "suite": self.suite,
            "suite_sha256": self.suite_sha256,
            "dataset": self.dataset,
            "fingerprint": self.fingerprint,
            "info_sha256": self.info_sha256,
            "success": self.success,
            "evaluated": self.evaluated,
            "successful": self.successful,
            "failed": self.failed,
            "failed_expectations": [dict(f) for f in self.failed_expectations],
            "drift": None if self.drift is None else dict(self.drift),
            "docs": self.docs,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationResult:
        return cls(
            suite=str(data["suite"]),
            success=bool(data["success"]),
            evaluated=int(data["evaluated"]),
            successful=int(data["successful"]),
            failed=int(data["failed"]),
            failed_expectations=tuple(data.get("failed_expectations") or ()),
            drift=data.get("drift"),
            dataset=str(data.get("dataset", "")),
            fingerprint=str(data.get("fingerprint", "")),
            suite_sha256=str(data.get("suite_sha256", "")),
            info_sha256=str(data.get("info_sha256", "")),
            docs=data.get("docs"),
        )

    def write(self, build_dir: str) -> str:
        """Write ``<build_dir>/validation/result.json`` atomically (``build_dir`` may be a URI);
        returns its path."""
        path = storage.join(build_dir, VALIDATION_RESULT)
        text = strict_json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        storage.write(path, text.encode("utf-8"))
        return path

    def summary_metadata(self) -> dict[str, str]:
        """Flat string key/values for a version's commit metadata (``curate.validation.*``)."""
        md = {
            "curate.validation.suite": self.suite,
            "curate.validation.success": "true" if self.success else "false",
            "curate.validation.evaluated": str(self.evaluated),
            "curate.validation.successful": str(self.successful),
            "curate.validation.failed": str(self.failed),
        }
        if self.drift is not None:
            md["curate.validation.drift.against"] = str(self.drift.get("against", ""))
            md["curate.validation.drift.success"] = "true" if self.drift_success else "false"
            for signal, v in (self.drift.get("signals") or {}).items():
                if v.get("distance") is not None:
                    md[f"curate.validation.drift.{signal}"] = f"{v['distance']:.4f}"
        return md


def read_result(build_dir: str) -> ValidationResult | None:
    """The build's ``validation/result.json``, or None if it was never validated. ``build_dir``
    may be a URI (``s3://bucket/builds/b1``)."""
    path = storage.join(build_dir, VALIDATION_RESULT)
    try:
        data = storage.read_bytes(path)
        return None if data is None else ValidationResult.from_dict(json.loads(data))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NotValidatedError(f"{path}: not a readable validation result ({e})") from e


def _read_info(build_dir: str) -> Mapping[str, Any]:
    path = storage.join(build_dir, INFO_FILE)
    try:
        data = storage.read_bytes(path)
        if data is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        info = json.loads(data)
    except (OSError, ValueError) as e:
        raise NotValidatedError(f"{path}: cannot be read ({e})") from e
    if not isinstance(info, Mapping):
        raise NotValidatedError(f"{path}: not a JSON object")
    return info


def require_passed(build_dir: str, *, info: Mapping[str, Any] | None = None) -> ValidationResult:
    """The build's passing validation result, or NotValidatedError saying why there is none:
    never validated, validated before the build changed (its fingerprint, or any of
    ``dataset_info.json``'s content: ``info``, read from ``build_dir`` unless given), or failed.
    ``build_dir`` may be a URI; a bucket that cannot be read is InfrastructureError."""
    result = read_result(build_dir)
    if result is None:
        raise NotValidatedError(
            f"{build_dir}: never validated (run `curate validate {build_dir}` or `curate gate`; "
            "--allow-unvalidated registers it anyway and records that)"
        )
    if info is None:
        info = _read_info(build_dir)
    fingerprint = str(info.get("fingerprint", ""))
    if result.fingerprint != fingerprint:
        raise NotValidatedError(
            f"{build_dir}: the validation result is for build {result.fingerprint[:12] or '?'}, "
            f"not this build {fingerprint[:12]}: validate it again"
        )
    if result.info_sha256 != info_digest(info):
        raise NotValidatedError(
            f"{build_dir}: {INFO_FILE} is not the one that was validated (its counts, splits or "
            "files were changed afterwards, or an older curate validated it): validate it again"
        )
    if not result.success:
        what = []
        if result.failed:
            what.append(f"{result.failed} of {result.evaluated} expectations failed")
        if not result.drift_success:
            what.append(f"drift against {result.drift.get('against')} failed")  # type: ignore[union-attr]
        raise NotValidatedError(
            f"{build_dir}: validation with suite {result.suite} failed ({'; '.join(what)}); "
            f"see {VALIDATION_DOCS_INDEX}"
        )
    return result


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        items = [_short(v) for v in value[:8]]
        return "[" + ", ".join(items) + (", …" if len(value) > 8 else "") + "]"
    return str(value)


def describe_expected(kwargs: Mapping[str, Any]) -> str:
    """``0.2 <= value <= 30``, ``in [16000]``, ``mostly 95%`` … from an expectation's kwargs."""
    parts = []
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if lo is not None or hi is not None:
        parts.append(" ".join(p for p in (
            f"{_short(lo)} <=" if lo is not None else "", "value",
            f"<= {_short(hi)}" if hi is not None else "") if p))
    rest = {k: v for k, v in kwargs.items() if k not in ("min_value", "max_value", "mostly")}
    parts += [f"{k} {_short(v)}" for k, v in rest.items()]
    if kwargs.get("mostly") is not None:
        parts.append(f"for {float(kwargs['mostly']):.0%} of rows")
    return ", ".join(parts)


def describe_observed(observed: Any, column: str | None = None) -> str:
    """One line for a failed expectation's observed value; in failing rows, the identifying
    columns come first and ``column`` (the checked one) last."""
    if isinstance(observed, Mapping) and "unexpected_count" in observed:
        head = f"{observed['unexpected_count']} of {observed['element_count']} rows"
        rows: Sequence[Mapping[str, Any]] = observed.get("rows") or []
        if rows:
            rows = [{**{k: v for k, v in r.items() if k != column},
                     **{k: v for k, v in r.items() if k == column}} for r in rows]
            shown = ["; ".join(f"{k}={_short(v)}" for k, v in r.items()) for r in rows[:3]]
            more = ", …" if len(rows) > 3 or observed["unexpected_count"] > len(shown) else ""
            return f"{head}: " + " | ".join(shown) + more
        values = observed.get("values") or []
        return f"{head}, e.g. {_short(values[:5])}" if values else head
    if isinstance(observed, Mapping) and "error" in observed:
        return f"error: {observed['error']}"
    return _short(observed)


def failure_rows(failures: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Rows of strings for the Data Docs index and the CLI."""
    return [
        {
            "table": str(f.get("table", "")),
            "column": str(f.get("column") or ""),
            "expectation": str(f["expectation"]),
            "expected": describe_expected(f.get("kwargs") or {}),
            "observed": describe_observed(f.get("observed"), f.get("column")),
        }
        for f in failures
    ]

