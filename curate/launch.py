"""Running a build: Beam options from the command line, the output checked, a heartbeat while
it runs, the summary table at the end. ``curate build``, ``curate demo`` and
``python -m pipelines.asr_dataset`` all run :func:`run_build`.

Any flag the launcher does not know is a Beam pipeline option (``--runner DataflowRunner
--project … --setup_file ./setup.py``); on the DirectRunner, ``workers=N`` runs N worker
processes (``direct_num_workers=N``, ``direct_running_mode=multi_processing``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from curate import fsio
from curate.errors import UsageError
from curate.layout import STAGING_DIR, ShardFormat

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions

__all__ = ["pipeline_options", "print_summary", "run_build"]


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


class _Progress(threading.Thread):
    """Prints a heartbeat while the pipeline runs: elapsed time, staged MB, shards written
    (read from a local output directory; remote outputs only get the elapsed time)."""

    _SHARD_MARK = f".{ShardFormat.TFRECORD.value}-"  # in every TFRecord shard's name

    def __init__(self, output_dir: str, say: Callable[[str], None], every_s: float = 5.0):
        super().__init__(daemon=True)
        self._output, self._say, self._every = output_dir, say, every_s
        self._stop_event = threading.Event()
        self._start = time.monotonic()

    def _scan(self) -> str:
        if not fsio.is_local(self._output) or not os.path.isdir(self._output):
            return ""
        staged = shards = 0
        for dirpath, _, names in os.walk(self._output):
            for name in names:
                if os.path.basename(dirpath) == STAGING_DIR:
                    staged += os.path.getsize(os.path.join(dirpath, name))
                elif self._SHARD_MARK in name and ".tmp-" not in name:
                    shards += 1
        return f", {staged / 1e6:.1f} MB of examples processed, {shards} TFRecord shards written"

    def run(self) -> None:
        while not self._stop_event.wait(self._every):
            try:
                detail = self._scan()
            except OSError:
                detail = ""
            self._say(f"  ... {time.monotonic() - self._start:.0f} s{detail}")

    def stop(self) -> None:
        self._stop_event.set()


def run_build(
    config_path: str,
    output_dir: str,
    *,
    workers: int | None = None,
    pipeline_args: Sequence[str] = (),
    overwrite: bool = False,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
) -> dict[str, Any]:
    """Validate the config, load the enabled signal models, run the build, return the parsed
    ``dataset_info.json``."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from curate.build import BuildDataset, prepare_output, read_info
    from curate.config import load_config

    fsio.require_client(output_dir)  # [aws] / [gcp] missing: one line, before any work
    options = pipeline_options(pipeline_args, workers)
    # The config, the sources' checks and the output are read before beam.Pipeline() would hand
    # the options to FileSystems: without this, s3:// paths ignore --s3_endpoint_url & co.
    FileSystems.set_options(options)
    config = load_config(config_path)
    for source in config.sources:
        for path in (source.path, source.audio_root):
            if path:
                fsio.require_client(path)
    models = None
    if config.signals is not None and config.enabled_models:
        from curate.models.transform import check_models

        say(f"loading signal models: {', '.join(config.enabled_models)}")
        models = check_models(config.signals)  # a model that cannot load fails before any data
    if fsio.is_local(output_dir):
        output_dir = os.path.abspath(fsio.local_path(output_dir))
    prepare_output(output_dir, overwrite=overwrite)
    say(f"building {config.name!r} from {len(config.sources)} source(s) into {output_dir}")
    progress = _Progress(output_dir, say)
    progress.start()
    try:
        with beam.Pipeline(options=options) as p:
            _ = p | "Build" >> BuildDataset(config, output_dir, models)
    finally:
        progress.stop()
    return read_info(output_dir)


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
        f"{'split':<12} {'examples':>9} {'speakers':>9} {'hours':>10} {'shards':>7}",
    ]
    ratios = info["config"]["splits"]["ratios"]
    for split in sorted(info["splits"], key=lambda n: (-ratios.get(n, 0), n)):
        s = info["splits"][split]
        n_shards = len(next(iter(s["shards"].values()), []))
        lines.append(f"{split:<12} {s['num_examples']:>9} {s['num_speakers']:>9} "
                     f"{_hours(s['duration_s']):>10} {n_shards:>7}")
    if info["rejected_by_reason"]:
        lines.append("rejected by reason:")
        by_count = sorted(info["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
        lines += [f"  {reason:<22} {n:>7}" for reason, n in by_count]
    lines += [f"output       {output_dir}", f"fingerprint  {info['fingerprint']}"]
    return lines


def print_summary(info: Mapping[str, Any], output_dir: str) -> None:
    print("\n".join(_summary_lines(info, output_dir)))
