"""Build an ASR dataset from a YAML config: ``python -m pipelines.asr_dataset --config C --output D``.

Any other flag is a Beam pipeline option (``--runner DataflowRunner --project … --setup_file
./setup.py``); on the DirectRunner, ``--workers N`` runs N worker processes. The same build as
``curate build``: both run :func:`curate.launch.run_build`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from curate.beam_options import check_pipeline_args
from curate.errors import CurateError
from curate.launch import print_summary, run_build

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    args, pipeline_args = parser.parse_known_args(argv)
    from curate.cli.main import silence_dependency_notices

    silence_dependency_notices()
    try:
        check_pipeline_args(pipeline_args, command="python -m pipelines.asr_dataset")
        info = run_build(args.config, args.output, workers=args.workers,
                         pipeline_args=pipeline_args, overwrite=args.overwrite, quiet=args.quiet)
    except CurateError as e:
        print(f"asr_dataset: error: {e}", file=sys.stderr)
        return e.exit_code
    print_summary(info, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
