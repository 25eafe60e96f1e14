"""Validate a build: its suite in GX, drift against a baseline, the result and the Data Docs.

>>> # validate_build("out/build", suite="asr_default",
>>> #                baseline=open_baseline("asr@v3", versions=RegistryBaselines(uri)))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from curate.errors import UsageError
from curate.fsio import is_local
from curate.layout import VALIDATION_DOCS, VALIDATION_DOCS_INDEX, VALIDATION_RESULT, info_digest
from curate.validation import storage
from curate.validation.drift import DriftReport, DriftThresholds, compare_frames
from curate.validation.result import ValidationResult, failure_rows
from curate.validation.suites import Suite, load_suite
from curate.validation.tables import (
    BuildDir,
    BuildLike,
    build_tables,
    manifest_frame,
    split_names,
)

__all__ = [
    "Baseline",
    "BaselineSource",
    "open_baseline",
    "suite_parameters",
    "validate",
    "validate_build",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Baseline:
    """What drift compares a build with: a registered version or another build directory."""

    label: str  # NAME@v3 or a path, as reported
    build: BuildLike

    @property
    def fingerprint(self) -> str:
        return str(self.build.info.get("fingerprint", ""))


@runtime_checkable
class BaselineSource(Protocol):
    """Where registered versions to compare with come from: a registry, without this package
    importing one (``registry.gate.RegistryBaselines`` is one). Each method raises
    :class:`~curate.validation.errors.BuildReadError` for an unknown dataset or version and
    :class:`~curate.validation.errors.InfrastructureError` when the registry cannot be
    reached."""

    def version(self, ref: str) -> Baseline:
        """The version ``NAME@VERSION``."""

    def latest(self, dataset: str) -> Baseline | None:
        """The latest version of ``dataset``; None if it has none (its first version)."""


def open_baseline(spec: str, *, versions: BaselineSource | None = None) -> Baseline:
    """``spec`` is a build directory (local or a URI), or ``NAME@VERSION`` from ``versions``."""
    if os.path.isdir(spec):
        return Baseline(label=os.path.abspath(spec), build=BuildDir.open(spec))
    if not is_local(spec):  # a build directory in a bucket
        return Baseline(label=spec, build=BuildDir.open(spec))
    if "@" not in spec:
        raise UsageError(
            f"--against {spec!r}: neither a build directory nor a NAME@VERSION reference"
        )
    if versions is None:
        raise UsageError(f"--against {spec!r}: no registry to look the version up in")
    return versions.version(spec)


def suite_parameters(info: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the suite parameters (:data:`curate.validation.suites.PARAMETERS`)."""
    rate = info.get("config", {}).get("audio", {}).get("sample_rate_hz", info.get("sample_rate_hz"))
    langid = (info.get("config", {}).get("signals") or {}).get("langid") or {}
    return {
        "sample_rates_hz": [int(rate)] if rate is not None else [],
        "splits": split_names(info),
        "languages": list(langid.get("languages", [])),
    }


def _verdict(result: ValidationResult) -> str:
    if result.success:
        return "PASSED"
    parts = []
    if result.failed:
        parts.append(f"{result.failed} of {result.evaluated} expectations failed")
    if not result.drift_success:
        parts.append("drift failed")
    return "FAILED: " + "; ".join(parts)


def _drift_rows(drift: DriftReport) -> list[dict[str, str]]:
    return [
        {
            "signal": signal,
            "distance": "n/a" if v["distance"] is None else f"{v['distance']:.4f}",
            "max": f"{v['max']:g}",
            "status": "ok" if v["success"] else "FAILED",
        }
        for signal, v in drift.signals.items()
    ] + [{"signal": line, "distance": "", "max": "", "status": "FAILED"}
         for line in drift.failures if line.startswith("split ")]


def validate(
    build: BuildLike,
    suite: Suite,
    *,
    baseline: Baseline | None = None,
    docs_dir: str | None = None,
) -> ValidationResult:
    """Run ``suite`` (and drift against ``baseline``) over ``build``; write the Data Docs to
    ``docs_dir`` if given. Writes nothing else."""
    from curate.validation.gx_run import run_suite

    info = build.info
    tables = build_tables(build)
    fingerprint = str(info.get("fingerprint", ""))
    outcome = run_suite(
        suite,
        tables,
        parameters=suite_parameters(info),
        datasource=str(info.get("name") or "build"),
        run_name=fingerprint[:12] or "curate",
    )
    drift = None
    if baseline is not None:
        thresholds = DriftThresholds.from_dict(
            suite.drift_config, origin=f"{suite.path}: meta.curate.drift"
        )
        drift = compare_frames(
            tables.examples,
            manifest_frame(baseline.build),
            thresholds,
            against=baseline.label,
            against_fingerprint=baseline.fingerprint,
        )
    failed = [o.to_failure_dict() for o in outcome.failed]
    successful = len(outcome.outcomes) - len(failed)
    result = ValidationResult(
        suite=suite.name,
        suite_sha256=suite.sha256,
        dataset=str(info.get("name", "")),
        fingerprint=fingerprint,
        info_sha256=info_digest(info),
        success=outcome.success and (drift is None or drift.success),
        evaluated=len(outcome.outcomes),
        successful=successful,
        failed=len(failed),
        failed_expectations=tuple(failed),
        drift=None if drift is None else drift.to_dict(),
        docs=None,
    )
    if docs_dir is not None:
        from curate.validation.docs import build_site

        label = getattr(build, "ref", "") or result.dataset
        build_site(
            outcome.context,
            docs_dir,
            title=f"{result.dataset} (build {fingerprint[:12]}, {label}): suite {suite.name}"
            + (f", drift against {baseline.label}" if baseline is not None else ""),
            verdict=_verdict(result),
            failures=failure_rows(failed)
            + [{"table": "drift", "column": "", "expectation": line, "expected": "",
                "observed": ""} for line in (drift.failures if drift else ())],
            drift=_drift_rows(drift) if drift is not None else (),
        )
    return result


def validate_build(
    build_dir: str,
    *,
    suite: str | Suite = "asr_default",
    baseline: Baseline | None = None,
    write: bool = True,
) -> ValidationResult:
    """Validate the build directory ``build_dir`` (local or a URI such as
    ``s3://bucket/builds/b1``); with ``write``, replace its ``validation/result.json`` and
    ``validation/docs/`` (a stale result is removed first, so an interrupted validation never
    leaves an old verdict behind). GX renders Data Docs to a local directory: for a build in a
    bucket, a temporary one that is then uploaded."""
    build = BuildDir.open(build_dir)
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    if not write:
        return validate(build, suite, baseline=baseline)
    storage.delete(storage.join(build.root, VALIDATION_RESULT))
    docs_dir = storage.join(build.root, VALIDATION_DOCS)
    if is_local(build.root):
        result = validate(build, suite, baseline=baseline, docs_dir=docs_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="curate-docs-") as tmp:
            result = validate(build, suite, baseline=baseline, docs_dir=tmp)
            storage.upload_dir(tmp, docs_dir)
    result = ValidationResult.from_dict({**result.to_dict(), "docs": VALIDATION_DOCS_INDEX})
    result.write(build.root)
    return result
