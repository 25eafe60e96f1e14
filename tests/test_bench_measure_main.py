"""``bench.common.measure_main``: the command line the per-model benchmarks share (``python -m
bench.models``, ``.dnsmos``, ``.whisper``, ``.signals``) prints the table and writes it with the
figures, numpy scalars included."""

from __future__ import annotations

import json

import numpy as np

from bench.common import measure_main


def test_it_runs_prints_the_table_and_writes_the_json(tmp_path, capsys):
    seen = []

    def run(quick: bool) -> dict:
        seen.append(quick)
        return {"audio_s_per_cpu_s": np.float32(8.5), "clips": 8}

    def table(results: dict) -> str:
        return f"| clips | {results['clips']} |"

    out = tmp_path / "r.json"
    code = measure_main(["--quick", "--out", str(out)], prog="python -m bench.x", doc="X.\n",
                        quick_help="small", default_out="x.json", run=run, table=table)
    assert code == 0 and seen == [True]
    assert "| clips | 8 |" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written == {"audio_s_per_cpu_s": 8.5, "clips": 8, "table": "| clips | 8 |"}
