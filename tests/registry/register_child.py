"""Run one ``Registry.register`` in a child process, for the fault tests.

    python -m tests.registry.register_child STORE_DIR BUILD_DIR DATASET [--gate FILE]
        [--kill-at NAME:N[:after]]

(or :func:`run_child` in a forked process, which is how the fault tests run it).

``--gate`` waits until FILE exists (so two children start registering together). ``--kill-at``
SIGKILLs this process at the N-th call of ``LocalStore.NAME`` (or of ``os.replace``, which every
atomic write of the local store ends with), before the call or, with ``:after``, right after it
returns. This is test-only instrumentation: production code has no hooks.
Prints the registered version as JSON; a RegistryError prints ``ERROR <type>: <message>`` and
exits 1.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import time
from typing import Any, Callable


def _kill_at(owner: Any, name: str, n: int, after: bool) -> None:
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if calls == n and after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def run_child(argv: list[str], conn: Any) -> None:
    """:func:`main` in a child forked by the fault tests' fork server (modules imported once,
    not per child): what it prints goes to ``conn``; it exits with main's code (or is killed)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    conn.send(out.getvalue())
    conn.close()
    sys.exit(code)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("store_dir")
    parser.add_argument("build_dir")
    parser.add_argument("dataset")
    parser.add_argument("--gate")
    parser.add_argument("--kill-at")
    args = parser.parse_args(argv)

    from registry.api import Registry
    from registry.errors import RegistryError
    from registry.local import LocalStore

    if args.kill_at:
        name, n, *rest = args.kill_at.split(":")
        owner: Any = os if name == "os.replace" else LocalStore
        _kill_at(owner, name.removeprefix("os."), int(n), rest == ["after"])
    if args.gate:
        while not os.path.exists(args.gate):
            time.sleep(0.005)
    try:
        v = Registry(LocalStore(args.store_dir), workers=4).register(
            args.build_dir, dataset=args.dataset
        )
    except RegistryError as e:
        print(f"ERROR {type(e).__name__}: {e}")
        return 1
    print(json.dumps(v.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
