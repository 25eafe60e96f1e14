"""Run by Python at the start-up of every process that the S3 tests and the bench smoke run
start (``tests/s3_server.py`` and ``tests/bench_quick.py`` put this directory first on their
``PYTHONPATH``): once the process
imports ``botocore.session``, its sessions share one data loader (``botocore_models.py``), as
the test process's do. Nothing is imported before the process imports botocore itself."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any

_MODULE = "botocore.session"


class _ShareOnImport(importlib.abc.MetaPathFinder):
    """Finds ``botocore.session`` as the path finder does, and shares the loader once it is
    executed; then leaves ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_share(module: Any) -> None:
            exec_module(module)
            from botocore_models import share_one_loader

            share_one_loader(module)

        spec.loader.exec_module = exec_and_share
        return spec


sys.meta_path.insert(0, _ShareOnImport())
