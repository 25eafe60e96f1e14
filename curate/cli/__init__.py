"""The ``curate`` command line: every command, one module per group.

* :mod:`.main`: the parser, and the one place that turns this project's errors into one line
  on stderr and an exit code;
* :mod:`.build`: ``curate samples``, ``curate build``, ``curate demo``;
* :mod:`.versions`: ``curate register``, ``versions``, ``show``, ``diff``, ``reproduce``,
  ``pull``;
* :mod:`.gate`: ``curate validate``, ``curate gate``, ``curate hook serve``.

The command line sits on top of everything else: it wires the library (:mod:`curate`), the
gate (:mod:`curate.validation`) and the registry (:mod:`registry`) together, and none of them
imports it.
"""

from __future__ import annotations

from curate.cli.main import main

__all__ = ["main"]
