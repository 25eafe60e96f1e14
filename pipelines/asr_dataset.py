"""Build an ASR dataset from a YAML config: ``python -m pipelines.asr_dataset --config C --output D``.

Any other flag is a Beam pipeline option (``--runner DataflowRunner --project … --setup_file
./setup.py``); on the DirectRunner, ``--workers N`` runs N worker processes
(``direct_num_workers=N``, ``direct_running_mode=multi_processing``). ``curate build`` runs this
same function.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "pipeline_options", "run"]


def pipeline_options(pipeline_args: Sequence[str], workers: int | None):
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(pipeline_args)
    if workers is not None:
        if workers < 1:
            from curate.errors import UsageError

            raise UsageError(f"--workers must be at least 1, got {workers}")
        mode = "multi_processing" if workers > 1 else "in_memory"
        args += [f"--direct_num_workers={workers}", f"--direct_running_mode={mode}"]
    if not any(a.startswith("--runner") for a in args):
        args.append("--runner=DirectRunner")
    return PipelineOptions(args)


class _Progress(threading.Thread):
    """Prints a heartbeat while the pipeline runs: elapsed time, staged MB, shards written
    (read from a local output directory; remote outputs only get the elapsed time)."""

    def __init__(self, output_dir: str, say: Callable[[str], None], every_s: float = 5.0):
        super().__init__(daemon=True)
        self._output, self._say, self._every = output_dir, say, every_s
        self._stop_event = threading.Event()
        self._start = time.monotonic()

    def _scan(self) -> str:
        if "://" in self._output or not os.path.isdir(self._output):
            return ""
        staged = shards = 0
        for dirpath, _, names in os.walk(self._output):
            for name in names:
                if dirpath.endswith(".staging"):
                    staged += os.path.getsize(os.path.join(dirpath, name))
                elif ".tfrecord-" in name and ".tmp-" not in name:
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


def run(
    config_path: str,
    output_dir: str,
    *,
    workers: int | None = None,
    pipeline_args: Sequence[str] = (),
    overwrite: bool = False,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
) -> dict[str, Any]:
    """Validate the config, run the build, return the parsed ``dataset_info.json``."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from curate.build import BuildDataset, prepare_output, read_info
    from curate.config import load_config

    options = pipeline_options(pipeline_args, workers)
    # The config, the sources' checks and the output are read before beam.Pipeline() would hand
    # the options to FileSystems: without this, s3:// paths ignore --s3_endpoint_url & co.
    FileSystems.set_options(options)
    config = load_config(config_path)
    models = None
    if config.enabled_models:  # a model that cannot load fails here, before any data is read
        from curate.models.transform import check_models

        say(f"loading signal models: {', '.join(config.enabled_models)}")
        models = check_models(config.signals)
    output_dir = output_dir if "://" in output_dir else os.path.abspath(output_dir)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--overwrite", action="store_true")
    args, pipeline_args = parser.parse_known_args(argv)
    from curate.cli import silence_dependency_notices

    silence_dependency_notices()
    from curate.commands import print_summary
    from curate.errors import CurateError

    try:
        info = run(args.config, args.output, workers=args.workers,
                   pipeline_args=pipeline_args, overwrite=args.overwrite)
    except CurateError as e:
        print(f"asr_dataset: error: {e}", file=sys.stderr)
        return e.exit_code
    print_summary(info, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
