"""Validate a build: its suite in GX, drift against a baseline, the result and the Data Docs.

>>> # validate_build("out/build", suite="asr_default", baseline=open_baseline("asr@v3"))
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from curate.errors import UsageError
from curate.fsio import is_local
from curate.validation import storage
from curate.validation.drift import DriftReport, DriftThresholds, compare_frames
from curate.validation.errors import BuildReadError, InfrastructureError
from curate.layout import VALIDATION_DOCS, VALIDATION_DOCS_INDEX, VALIDATION_RESULT
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
    "latest_baseline",
    "open_baseline",
    "suite_parameters",
    "validate",
    "validate_build",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Baseline:
    """What drift compares a build with: a registered version or another build directory."""

    label: str  # NAME@v3 or a path, as reported
    build: BuildLike

    @property
    def fingerprint(self) -> str:
        return str(self.build.info.get("fingerprint", ""))


@contextlib.contextmanager
def registry_errors(what: str) -> Iterator[None]:
    """Registry failures as this package's errors: unreachable -> exit 3, bad name -> exit 2."""
    try:
        from registry import errors as reg
    except ImportError as e:
        raise InfrastructureError(f"{what}: the registry package is not available ({e})") from e
    try:
        yield
    except (reg.NotFoundError, reg.ReferenceError_) as e:
        raise BuildReadError(f"{what}: {e}") from e
    except reg.RegistryError as e:  # unreachable store, corrupted download, conflicts
        raise InfrastructureError(f"{what}: {e}") from e
    except OSError as e:
        raise InfrastructureError(f"{what}: {e}") from e


def _registry(uri: str | None) -> Any:
    try:
        from registry.api import Registry
    except ImportError as e:
        raise InfrastructureError(f"the registry API is not available ({e})") from e
    return Registry(uri)


def open_baseline(spec: str, *, registry: str | None = None) -> Baseline:
    """``spec`` is a build directory (local or a URI), or ``NAME@VERSION`` in the registry at
    ``registry``."""
    if os.path.isdir(spec):
        return Baseline(label=os.path.abspath(spec), build=BuildDir.open(spec))
    if not is_local(spec):  # a build directory in a bucket
        return Baseline(label=spec, build=BuildDir.open(spec))
    if "@" not in spec:
        raise UsageError(
            f"--against {spec!r}: neither a build directory nor a NAME@VERSION reference"
        )
    with registry_errors(f"--against {spec}"):
        version = _registry(registry).open(spec)
        _ = version.info  # fetch now: an unreachable store fails here, not halfway through
    return Baseline(label=getattr(version, "ref", spec), build=version)


def latest_baseline(dataset: str, *, registry: str | None = None) -> Baseline | None:
    """``NAME@latest`` when the dataset exists and has a version, else None (a first version)."""
    from registry.errors import NotFoundError

    with registry_errors(f"dataset {dataset!r}"):
        reg = _registry(registry)
        try:
            version = reg.latest(dataset)
        except NotFoundError:
            return None
        if version is None:
            return None
        opened = reg.open(version)
        _ = opened.info
    return Baseline(label=version.ref, build=opened)


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
         for line in drift.failures if line.startswith("split ")]  # fmt: skip


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
                "observed": ""} for line in (drift.failures if drift else ())],  # fmt: skip
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
