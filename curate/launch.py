"""Running a build: Beam options from the command line, the output checked, its progress while
it runs (:mod:`curate.build_progress`: inputs listed, processed out of the total, shards written
out of planned, each with an ETA; on stderr), the build's report written beside it, the
summary table at the end. ``curate build``, ``curate demo`` and ``python -m
pipelines.asr_dataset`` all run :func:`run_build`.

Any flag the launcher does not know is a Beam pipeline option (``--runner DataflowRunner
--project … --setup_file ./setup.py``); on the DirectRunner, ``workers=N`` runs N worker
processes (``direct_num_workers=N``, ``direct_running_mode=multi_processing``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from curate import fsio
from curate.errors import CurateError, UsageError
from curate.layout import REPORT_FILE, STAGING_DIR

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.base import BasePlan, BaseVersion
    from curate.config import BuildConfig

__all__ = ["pipeline_options", "print_summary", "run_build", "run_config", "write_build_report"]

log = logging.getLogger(__name__)


def pipeline_options(pipeline_args: Sequence[str], workers: int | None) -> PipelineOptions:
    """Beam options from ``pipeline_args``, with ``workers`` DirectRunner worker processes and
    the DirectRunner unless a runner is named."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(pipeline_args)
    if workers is not None:
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        mode = "multi_processing" if workers > 1 else "in_memory"
        args += [f"--direct_num_workers={workers}", f"--direct_running_mode={mode}"]
    if not any(a.startswith("--runner") for a in args):
        args.append("--runner=DirectRunner")
    return PipelineOptions(args)


def _plan(config: BuildConfig, models: Any, base: BaseVersion,
          say: Callable[[str], None]) -> BasePlan:
    """How the build uses ``base``, said in one line (UsageError for a base it cannot use)."""
    from curate.base import plan_base
    from curate.settings import build_settings

    plan = plan_base(config, base, build_settings(config, models))
    if plan.incremental:
        say(f"building on {base.ref} (commit {base.commit_id[:12]}): inputs that match it are "
            "carried over without decoding")
    else:
        say(f"{plan.reason}: full rebuild, nothing carried from {base.ref}")
    return plan


def _counters(result: Any) -> dict[str, int]:
    """The pipeline's ``curate`` counters (``audio.decoded``, ``rejected.<reason>``, …)."""
    from apache_beam.metrics.metric import MetricsFilter

    found: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace("curate"))["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        found[c.key.metric.name] = found.get(c.key.metric.name, 0) + int(value or 0)
    return found


def run_build(
    config_path: str,
    output_dir: str,
    *,
    workers: int | None = None,
    pipeline_args: Sequence[str] = (),
    overwrite: bool = False,
    base: BaseVersion | None = None,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
    counters: MutableMapping[str, int] | None = None,
    quiet: bool = False,
    progress_every_s: float | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Validate the config, load the enabled signal models, run the build, write its report
    (unless not ``report``), return the parsed ``dataset_info.json``. Progress goes to stderr
    unless ``quiet``: a bar on a terminal, else a line every ``progress_every_s`` (default
    :data:`curate.progress.EVERY_S`).

    ``base``: a registered version to build on (``Registry(uri).open("name@v3")``): inputs
    that match its records are carried over without decoding and its unchanged shards are kept
    (:mod:`curate.base`). ``counters``, when given, receives the pipeline's ``curate`` counters
    (``audio.decoded``: the inputs whose audio was decoded)."""
    from apache_beam.io.filesystems import FileSystems

    from curate.config import load_config

    fsio.require_client(output_dir)  # [aws] / [gcp] missing: one line, before any work
    options = pipeline_options(pipeline_args, workers)
    # The config, the sources' checks and the output are read before beam.Pipeline() would hand
    # the options to FileSystems: without this, s3:// paths ignore --s3_endpoint_url & co.
    FileSystems.set_options(options)
    config = load_config(config_path)
    return run_config(config, output_dir, options=options, overwrite=overwrite,
                      config_path=config_path, base=base, say=say, counters=counters,
                      quiet=quiet, progress_every_s=progress_every_s, report=report)


def run_config(
    config: BuildConfig,
    output_dir: str,
    *,
    options: PipelineOptions | None = None,
    overwrite: bool = False,
    config_path: str | None = None,
    base: BaseVersion | None = None,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
    counters: MutableMapping[str, int] | None = None,
    quiet: bool = False,
    progress_every_s: float | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """:func:`run_build` of a config already loaded (``curate reproduce`` rebuilds the one a
    version recorded); ``options`` default to the DirectRunner's."""
    import apache_beam as beam

    from curate.build import BuildDataset, prepare_output, read_info
    from curate.build_progress import BuildProgress, counts_of

    options = options if options is not None else pipeline_options((), None)
    for source in config.sources:  # a bucket source without its client library: one line
        for path in (source.path, source.audio_root):
            if path:
                fsio.require_client(path)
    models = None
    if config.signals is not None and config.enabled_models:
        from curate.models.transform import check_models

        say(f"loading signal models: {', '.join(config.enabled_models)}")
        models = check_models(config.signals)  # a model that cannot load fails before any data
    plan = None if base is None else _plan(config, models, base, say)  # before any write
    if fsio.is_local(output_dir):
        output_dir = os.path.abspath(fsio.local_path(output_dir))
    prepare_output(output_dir, overwrite=overwrite, sources=config.sources,
                   config_path=config_path)
    say(f"building {config.name!r} from {len(config.sources)} source(s) into {output_dir}")
    progress = BuildProgress(output_dir, sources=len(config.sources), quiet=quiet,
                             every_s=progress_every_s)
    progress.start()
    info = None
    try:
        with beam.Pipeline(options=options) as p:
            _ = p | "Build" >> BuildDataset(config, output_dir, models, plan, progress=True)
        info = read_info(output_dir)
        if counters is not None:
            counters.update(_counters(p.result))
    finally:
        progress.stop(final=counts_of(info) if info is not None else None)
    _remove_progress(output_dir)
    if report:
        write_build_report(output_dir, say=say)
    return info


def _remove_progress(output_dir: str) -> None:
    """What a worker counted after the build removed its staging directory (the counting
    branches may end after it): a finished build holds no staging directory."""
    path = fsio.join(output_dir, STAGING_DIR)  # (PROGRESS_DIR is below it)
    if fsio.holds_files(path) or (fsio.is_local(path) and os.path.isdir(fsio.local_path(path))):
        fsio.delete_tree(path)


def write_build_report(output_dir: str, *, say: Callable[[str], None]) -> str | None:
    """Write the build's ``report.html``; returns its path. The build is complete without it:
    a report that cannot be written is a warning, not a failed build."""
    from curate.report.write import write_report

    try:
        return write_report(output_dir).path
    except (CurateError, OSError) as e:
        log.warning("the build's report was not written: %s", e)
        say(f"warning: the build's report was not written: {e}")
        return None


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.3f} h"


def _summary_lines(info: Mapping[str, Any], output_dir: str) -> list[str]:
    """The short table that ends a build: counts, each split, rejections, the fingerprint."""
    counts = info["counts"]
    lines = [
        "",
        f"dataset      {info['name']}",
        f"utterances   read {counts['read']}, accepted {counts['accepted']}, "
        f"rejected {counts['rejected']}",
    ]
    base = info.get("base")
    if base:
        lines.append(f"base         {base['ref']} (commit {base['commit_id'][:12]}), "
                     f"{base['mode']}" + (f": {base['reason']}" if base.get("reason") else ""))
        lines.append(f"             carried {counts.get('carried', 0)} without decoding, "
                     f"processed {counts.get('processed', 0)}, removed "
                     f"{counts.get('removed', 0)}")
    lines += [
        f"{'split':<12} {'examples':>9} {'speakers':>9} {'hours':>10} {'shards':>7}",
    ]
    ratios = info["config"]["splits"]["ratios"]
    for split in sorted(info["splits"], key=lambda n: (-ratios.get(n, 0), n)):
        s = info["splits"][split]
        shards = next(iter(s["shards"].values()), [])
        kept = sum(1 for shard in shards if shard.get("base"))
        lines.append(f"{split:<12} {s['num_examples']:>9} {s['num_speakers']:>9} "
                     f"{_hours(s['duration_s']):>10} {len(shards):>7}"
                     + (f" ({kept} kept from the base)" if base else ""))
    if info["rejected_by_reason"]:
        lines.append("rejected by reason:")
        by_count = sorted(info["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
        lines += [f"  {reason:<22} {n:>7}" for reason, n in by_count]
    lines += [f"output       {output_dir}", f"fingerprint  {info['fingerprint']}"]
    report = fsio.join(output_dir, REPORT_FILE)
    if fsio.is_file(report):
        lines.append(f"report       {report}")
    return lines


def print_summary(info: Mapping[str, Any], output_dir: str) -> None:
    print("\n".join(_summary_lines(info, output_dir)))
