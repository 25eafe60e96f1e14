"""Where DNSMOS spends its CPU, per audio second, and what the runtime's options change.

``python -m bench.dnsmos [--quick] [--out PATH]`` prints the tables and writes a JSON file
(default ``bench/dnsmos_results.json``). One thread throughout; CPU seconds are this process's
(``time.process_time``), so others' load moves them less than wall time.

* **Stages** (``curate.models.dnsmos`` on the bench corpus, the sample generator's 2-15 s
  utterances, as ``Dnsmos.score`` runs them): resampling to 16 kHz (``ModelInput.from_audio``,
  done once per input for every model, not by DNSMOS), clip + windows, the P.835 network
  (``sig_bak_ovr.onnx``), the P.808 mel features, the P.808 network (``model_v8.onnx``), the
  calibration. CPU s per audio second and share of the total.
* **Inside P.835**: onnxruntime's own profile of one window, time per node, the multiply-adds of
  each convolution from its shapes, and the GFLOP/s reached, against a float32 matrix product in
  numpy (OpenBLAS) on the same machine: how close the network already runs to what one core
  can do.
* **Variants**, on the same windows, rounds interleaved: the session as ``curate`` makes it
  (``ORT_ENABLE_ALL``, one intra-op and one inter-op thread, memory arena on) against extended /
  basic graph optimisation, no memory arena, denormals as zero, and batches of 2 and 4 windows in
  one ``run``; whether each gives the same outputs bit for bit. When the ``MNN`` package is
  importable (not a dependency of curate), the P.835 network converted from the same pinned file
  runs too (its 3x3 convolutions use Winograd's algorithm: fewer multiplies, other rounding).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["run"]


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.process_time()
    out = fn()
    return out, time.process_time() - started


def _corpus(utterances: int) -> tuple[list[Any], float]:
    """The bench corpus's first ``utterances`` inputs at 16 kHz, and the CPU s resampling took."""
    import soundfile as sf

    from bench.corpus import ensure_corpus
    from curate.models.records import ModelInput

    corpus, _ = ensure_corpus(1000)
    with open(os.path.join(corpus.root, "manifest.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:utterances]
    raw = [sf.read(os.path.join(corpus.root, row["audio_filepath"]), dtype="float32")
           for row in rows]
    inputs, cpu = _cpu(lambda: [ModelInput.from_audio(a, sample_rate_hz=r, transcript="")
                                for a, r in raw])
    return inputs, cpu


def _stages(model, inputs: Sequence[Any], rounds: int) -> dict[str, Any]:
    """CPU s of each step of ``Dnsmos.score``, done step by step, median over rounds."""
    from curate.models import dnsmos as d

    names = ("windows", "p835", "p808_features", "p808", "calibration")
    per_round: list[dict[str, float]] = []
    for _ in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        for x in inputs:
            wins, t = _cpu(lambda x=x: np.ascontiguousarray(
                d.windows(np.clip(x.samples, -1.0, 1.0)), dtype=np.float32))
            spent["windows"] += t
            raw, t = _cpu(lambda w=wins: model._p835.run(None, {"input_1": w})[0])
            spent["p835"] += t
            mel, t = _cpu(lambda w=wins: np.stack([d.p808_features(v[: d._P808_SAMPLES])
                                                   for v in w]))
            spent["p808_features"] += t
            _, t = _cpu(lambda m=mel: model._p808.run(None, {"input_1": m})[0])
            spent["p808"] += t
            _, t = _cpu(lambda r=raw: [np.polyval(p, r[:, i].astype(np.float64)) for i, p in
                                       enumerate((d._POLY_SIG, d._POLY_BAK, d._POLY_OVRL))])
            spent["calibration"] += t
        per_round.append(spent)
    return {name: statistics.median(r[name] for r in per_round) for name in names}


def _node_profile(path: str, window: np.ndarray) -> dict[str, Any]:
    """onnxruntime's per-node profile of one P.835 window (after two warm-up runs)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory() as tmp:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "p835")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        for _ in range(3):
            session.run(None, {"input_1": window[None]})
        with open(session.end_profiling(), encoding="utf-8") as f:
            events = json.load(f)
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    last_run = runs[-1]
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
             and e["ts"] >= last_run["ts"]]
    total_us = sum(e["dur"] for e in nodes)
    rows, by_op, macs_all = [], Counter(), 0
    for e in nodes:
        args = e["args"]
        by_op[args["op_name"]] += e["dur"]
        macs = 0
        if args["op_name"] == "Conv":
            weight = next(iter(args["input_type_shape"][1].values()))  # [out, in, kh(, kw)]
            out = next(iter(args["output_type_shape"][0].values()))
            macs = math.prod(out) * math.prod(weight[1:])
            macs_all += macs
        rows.append({"node": e["name"][: -len("_kernel_time")], "op": args["op_name"],
                     "us": e["dur"], "share": e["dur"] / total_us, "gmac": macs / 1e9})
    rows.sort(key=lambda r: -r["us"])
    return {
        "run_wall_s": last_run["dur"] / 1e6,
        "by_op_share": {op: us / total_us for op, us in by_op.most_common()},
        "top_nodes": rows[:8],
        "conv_gflop": 2 * macs_all / 1e9,
    }


def _sgemm_gflop_per_cpu_s(n: int = 1536, reps: int = 4) -> float:
    """float32 matrix product in numpy: GFLOP per CPU second (every BLAS thread counted)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    _, cpu = _cpu(lambda: [a @ a for _ in range(reps)])
    return 2 * n**3 * reps / cpu / 1e9


def _ort_session(path: str, level: str = "ORT_ENABLE_ALL", arena: bool = True,
                 config: dict[str, str] | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.enable_cpu_mem_arena = arena
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _mnn_runner(path: str, tmp: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """P.835 through MNN (converted from ``path``), one thread; None when MNN is missing."""
    try:
        import _tools  # MNN's converter, called directly (its Python wrapper logs usage)
        import MNN
    except ImportError:
        return None
    converted = os.path.join(tmp, "sig_bak_ovr.mnn")
    _tools.mnnconvert(["mnnconvert", "-f", "ONNX", "--modelFile", path, "--MNNModel", converted,
                       "--bizCode", "curate"])
    runtime = MNN.nn.create_runtime_manager(({"backend": "CPU", "numThread": 1,
                                              "precision": "high"},))
    net = MNN.nn.load_module_from_file(converted, ["input_1"], ["Identity:0"],
                                       runtime_manager=runtime)

    def run(wins: np.ndarray) -> np.ndarray:
        outs = []
        for w in wins:
            tensor = MNN.expr.const(w, [1, w.shape[0]], MNN.expr.data_format.NCHW)
            outs.append(np.array(net.forward([tensor])[0].read(), dtype=np.float32).reshape(3))
        return np.stack(outs)

    return run


def _variants(p835_path: str, wins: np.ndarray, rounds: int) -> dict[str, Any]:
    """CPU s per window of each way of running P.835 on the same windows, rounds interleaved."""
    base = _ort_session(p835_path)

    def ort_runner(session, batch: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda w: np.concatenate([session.run(None, {"input_1": w[i : i + batch]})[0]
                                         for i in range(0, w.shape[0], batch)])

    runners: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "curate (ORT_ENABLE_ALL, arena, 1 window per run)": ort_runner(base, 1),
        "ORT_ENABLE_EXTENDED": ort_runner(_ort_session(p835_path, "ORT_ENABLE_EXTENDED"), 1),
        "ORT_ENABLE_BASIC": ort_runner(_ort_session(p835_path, "ORT_ENABLE_BASIC"), 1),
        "no memory arena": ort_runner(_ort_session(p835_path, arena=False), 1),
        "denormals as zero": ort_runner(_ort_session(
            p835_path, config={"session.set_denormal_as_zero": "1"}), 1),
        "2 windows per run": ort_runner(base, 2),
        "4 windows per run": ort_runner(base, 4),
    }
    with tempfile.TemporaryDirectory() as tmp:
        mnn = _mnn_runner(p835_path, tmp)
        if mnn is not None:
            runners["MNN 3.x (Winograd), converted from the same file"] = mnn
        reference = runners["curate (ORT_ENABLE_ALL, arena, 1 window per run)"](wins)
        spent: dict[str, list[float]] = {name: [] for name in runners}
        outputs: dict[str, np.ndarray] = {}
        for _ in range(rounds):
            for name, fn in runners.items():
                outputs[name], cpu = _cpu(lambda fn=fn: fn(wins))
                spent[name].append(cpu / wins.shape[0])
    base_s = statistics.median(spent["curate (ORT_ENABLE_ALL, arena, 1 window per run)"])
    return {
        name: {
            "cpu_s_per_window": statistics.median(spent[name]),
            "vs_curate": base_s / statistics.median(spent[name]),
            "bit_identical": bool(np.array_equal(outputs[name], reference)),
            "max_abs_diff_raw": float(np.abs(outputs[name] - reference).max()),
        }
        for name in runners
    } | ({} if mnn is not None else {"MNN": {"error": "MNN not importable"}})


def run(quick: bool) -> dict[str, Any]:
    """Measure everything (see the module docstring)."""
    from curate.models import dnsmos as d
    from curate.models.dnsmos import WINDOW_SAMPLES, Dnsmos
    from curate.models.pinned import package_dir

    n, rounds, variant_windows = (30, 1, 4) if quick else (100, 2, 8)
    load_before = os.getloadavg()[0]
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    inputs, resample_cpu = _corpus(n)
    audio_s = float(sum(x.duration_s for x in inputs))
    model = Dnsmos.load()
    stages = _stages(model, inputs, rounds)
    _, score_cpu = _cpu(lambda: [model.score(x.samples) for x in inputs])
    windows_total = sum(d.windows(x.samples).shape[0] for x in inputs)
    total = sum(stages.values())
    root = package_dir("speechmos", field="bench", install="pip install speechmos")
    p835_path = os.path.join(root, "dnsmos_models", "sig_bak_ovr.onnx")
    wins = np.concatenate([d.windows(x.samples) for x in inputs])[:variant_windows]
    profile = _node_profile(p835_path, wins[0])
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "corpus": {"utterances": n, "audio_s": audio_s, "windows": windows_total,
                   "windows_per_utterance": windows_total / n,
                   "window_audio_s_per_audio_s": windows_total * WINDOW_SAMPLES / 16000 / audio_s},
        "score_audio_s_per_cpu_s": audio_s / score_cpu,
        "resample_cpu_s_per_audio_s": resample_cpu / audio_s,
        "stages_cpu_s_per_audio_s": {k: v / audio_s for k, v in stages.items()},
        "stages_share": {k: v / total for k, v in stages.items()},
        "stages_audio_s_per_cpu_s": audio_s / total,
        "p835_cpu_s_per_window": stages["p835"] / windows_total,
        "p835_profile": profile,
        "p835_conv_gflop_per_cpu_s": profile["conv_gflop"] / (
            stages["p835"] / windows_total * profile["by_op_share"].get("Conv", 1.0)),
        "sgemm_gflop_per_cpu_s": _sgemm_gflop_per_cpu_s(),
        "variants": _variants(p835_path, wins, rounds),
    }
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    results["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    results["background_cores"] = round(max(0.0, max(load_before, os.getloadavg()[0])
                                            - cpu / wall), 2)
    return results


def table(r: dict[str, Any]) -> str:
    c, p = r["corpus"], r["p835_profile"]
    head = (f"{c['utterances']} bench-corpus utterances, {c['audio_s']:.0f} s of audio, "
            f"{c['windows']} windows ({c['windows_per_utterance']:.2f} per utterance: the "
            f"networks see {c['window_audio_s_per_audio_s']:.2f} s per audio second); "
            f"Dnsmos.score: {r['score_audio_s_per_cpu_s']:.1f} audio s per CPU s; load average "
            f"{r['load_average_1min'][0]} -> {r['load_average_1min'][1]}")
    resample = (f"| resample to 16 kHz (ModelInput.from_audio, shared by all models) | "
                f"{1000 * r['resample_cpu_s_per_audio_s']:.2f} | (not DNSMOS) |")
    lines = [head, "", "| stage | CPU ms per audio s | share |", "|---|---|---|", resample]
    for name, per in r["stages_cpu_s_per_audio_s"].items():
        lines.append(f"| {name} | {1000 * per:.2f} | {100 * r['stages_share'][name]:.1f}% |")
    conv = (f"P.835: {r['p835_cpu_s_per_window']:.3f} CPU s per window; convolutions "
            f"{100 * p['by_op_share'].get('Conv', 0):.1f}% of its node time, "
            f"{p['conv_gflop']:.1f} GFLOP per window at {r['p835_conv_gflop_per_cpu_s']:.0f} "
            f"GFLOP per CPU s (numpy float32 matmul here: {r['sgemm_gflop_per_cpu_s']:.0f})")
    lines += ["", conv, "", "| node | op | share | GMAC |", "|---|---|---|---|"]
    for n in p["top_nodes"][:6]:
        lines.append(f"| {n['node'][-44:]} | {n['op']} | {100 * n['share']:.1f}% | "
                     f"{n['gmac']:.2f} |")
    lines += ["", "| P.835 run as | CPU s per window | speed vs curate's | same bits | raw diff |",
              "|---|---|---|---|---|"]
    for name, v in r["variants"].items():
        if "error" in v:
            lines.append(f"| {name} | {v['error']} | | | |")
            continue
        lines.append(f"| {name} | {v['cpu_s_per_window']:.3f} | x{v['vs_curate']:.2f} | "
                     f"{'yes' if v['bit_identical'] else 'no'} | {v['max_abs_diff_raw']:.1e} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import measure_main

    return measure_main(argv, prog="python -m bench.dnsmos", doc=__doc__, quick_help="30 utterances, one round",
                        default_out="dnsmos_results.json", run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
