"""Benchmark 6: how long a fresh interpreter takes to get going, and what it imports.

Each command runs in a fresh process (its own interpreter, nothing cached in memory but the
page cache), interleaved with a bare ``python -c pass`` measured beside it; the best of
``rounds`` is kept. Target: under 1.0 s for ``import registry.api``, ``curate --help`` and
``curate versions``, none of which should import Apache Beam, TensorFlow or Great
Expectations (the modules found loaded at exit are recorded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.common import repo_root

__all__ = ["HEAVY", "run"]

HEAVY = ("apache_beam", "tensorflow", "great_expectations", "torch")

_PROBE = (
    "import atexit, json, sys\n"
    "def _report():\n"
    "    heavy = sorted(m for m in {heavy!r} if m in sys.modules)\n"
    "    sys.stderr.write('\\n@@heavy ' + json.dumps(heavy) + '\\n')\n"
    "atexit.register(_report)\n"
)


def _command(code: str) -> list[str]:
    return [sys.executable, "-c", _PROBE.format(heavy=HEAVY) + code]


def _cli(*args: str) -> str:
    return ("import sys\nfrom curate.cli import main\nsys.argv = ['curate', "
            + ", ".join(repr(a) for a in args) + "]\ntry:\n    main()\nexcept SystemExit:\n    pass\n")


def _time(cmd: list[str], env: dict[str, str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=repo_root(), capture_output=True, text=True,
                          timeout=300)
    elapsed = time.perf_counter() - start
    heavy: list[str] = []
    for line in proc.stderr.splitlines():
        if line.startswith("@@heavy "):
            heavy = json.loads(line[len("@@heavy "):])
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[-1][-80:]!r} failed: {proc.stderr[-800:]}")
    return elapsed, heavy


def run(*, rounds: int, say) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="curate-bench-imports-") as tmp:
        registry = f"file://{os.path.join(tmp, 'registry')}"
        env = dict(os.environ, CURATE_REGISTRY=registry, TF_CPP_MIN_LOG_LEVEL="2",
                   CURATE_CACHE_DIR=os.path.join(tmp, "cache"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root(), env.get("PYTHONPATH")) if p)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import registry.api": _command("import registry.api\n"),
            "curate --help": _command(_cli("--help")),
            "curate versions": _command(_cli("versions", "no-such-dataset")),
        }
        best: dict[str, dict[str, Any]] = {}
        for _ in range(rounds):
            for name, cmd in commands.items():
                seconds, heavy = _time(cmd, env)
                if name not in best or seconds < best[name]["seconds"]:
                    best[name] = {"seconds": seconds, "heavy_modules": heavy}
    for name, b in best.items():
        say(f"    {name}: {b['seconds']:.2f} s, imports {', '.join(b['heavy_modules']) or 'none of ' + '/'.join(HEAVY)}")
    targets = {f"{name} < 1.0 s": best[name]["seconds"] < 1.0 for name in best if name != "python -c pass"}
    targets.update({f"{name}: no Beam, TensorFlow or GX": not set(best[name]["heavy_modules"])
                    & {"apache_beam", "tensorflow", "great_expectations"}
                    for name in best if name != "python -c pass"})
    return {"rounds": rounds, "commands": best, "targets": targets,
            "ratios": {f"{n} vs python -c pass": best[n]["seconds"] / best["python -c pass"]["seconds"]
                       for n in best if n != "python -c pass"}}
