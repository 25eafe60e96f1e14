"""One botocore data loader (the parsed service models) for every botocore session of a
process: Beam's S3 filesystem makes a new boto3 session and client for every operation, and
each new session parses botocore's S3 service model again, about 170 ms of CPU here against
22 ms with the loader shared. None of that is what the S3 tests test. Used by the test process
(``tests/s3_server.py``) and, through ``sitecustomize.py`` beside this, by the processes they
start (Beam's SDK workers, ``curate`` commands). Imports nothing but the standard library and
botocore, so that it works on any process's ``PYTHONPATH``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["share_one_loader"]


def share_one_loader(session_module: Any = None) -> Callable[[], None]:
    """Make every botocore session made from now on in this process share one data loader;
    returns the function that puts botocore's own way back. ``session_module``:
    ``botocore.session`` while it is being imported (not yet an attribute of ``botocore``)."""
    import botocore.loaders

    if session_module is None:
        import botocore.session as session_module

    shared = botocore.loaders.create_loader()
    session_class = session_module.Session
    saved = session_class._register_data_loader

    def register(session: Any) -> None:
        session._components.lazy_register_component("data_loader", lambda: shared)

    session_class._register_data_loader = register

    def restore() -> None:
        session_class._register_data_loader = saved

    return restore
