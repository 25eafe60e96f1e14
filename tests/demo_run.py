"""``curate demo`` as ``make demo`` runs it, without TensorFlow (the core install), in a
subprocess: once per test session (the ``demo_run`` fixture of ``tests/conftest.py``) for
``tests/test_demo.py``, which checks what it printed, and ``tests/validation/test_sample_builds.py``,
which validates its build of the sample corpus (tests/scheduling.py keeps the two files in one
test process)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["DemoRun", "curate_without_tf", "run_demo"]

# `curate` as the core install has it: TensorFlow (the [tf] extra) cannot be imported.
_WITHOUT_TF = ("import sys\nsys.modules['tensorflow'] = None\nfrom curate.cli import main\n"
               "sys.exit(main())\n")


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoRun:
    root: str  # the demo's --dir
    proc: subprocess.CompletedProcess

    @property
    def build(self) -> str:
        """v1's build directory (the sample corpus with its bad inputs, validated)."""
        return os.path.join(self.root, "build")

    @property
    def config(self) -> str:
        """The config v1 was built from (the sample corpus's LibriSpeech layout)."""
        return os.path.join(self.root, "corpus", "configs", "librispeech.yaml")


def curate_without_tf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_TF, *args], capture_output=True,
                          text=True, timeout=600)


def run_demo(root: str) -> DemoRun:
    """``curate demo --dir root``, with the demo's defaults (what `make demo` builds)."""
    return DemoRun(root=root, proc=curate_without_tf("demo", "--dir", root))
