"""The results table: Markdown, so that it can be pasted into the README as printed."""

from __future__ import annotations

from typing import Any

__all__ = ["table"]


def _ok(flag: bool | None) -> str:
    return "" if flag is None else ("yes" if flag else "**no**")


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if abs(n) >= 1e5 else f"{int(n)} B"


def _throughput_rows(t: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    s, r = t["summary"], t["ratios"]

    def fig(kind: str) -> str:
        x = s[kind]
        return (
            f"{x['audio_s_per_s']:.0f} audio s/s ({x['wall_s']:.1f} s wall, start-up "
            f"{x['startup_s']:.1f} s, {x['cpu_s']:.1f} CPU s, others' load "
            f"{x['background_cores']:.2f} cores)"
        )

    hours = t["audio_s"] / 3600
    rows = [
        ("1 curation: floor (1 process, no Beam)", f"{t['utterances']} utterances, {hours:.2f} h: "
         + fig("floor"), "1.00", "", ""),
        ("1 curation: build, 1 worker", fig("workers_1"), f"{r['workers_1_vs_floor']:.2f}",
         ">= 0.95", _ok(r["workers_1_vs_floor"] >= 0.95)),
        ("1 curation: build, 2 workers", fig("workers_2"), f"{r['workers_2_vs_floor']:.2f}",
         ">= 1.7", _ok(r["workers_2_vs_floor"] >= 1.7)),
        ("1 curation: the floor in a pool of 2 processes (ceiling for 2 workers here)",
         fig("floor_2_processes"), f"{r['floor_2_processes_vs_floor']:.2f}", "", ""),
        ("1 curation: build with 2 workers vs that pool", "",
         f"{r['workers_2_vs_floor_2_processes']:.2f}", "", ""),
        ("1 curation: start-up excluded, 1 / 2 workers",
         f"{s['workers_1']['steady_audio_s_per_s']:.0f} / "
         f"{s['workers_2']['steady_audio_s_per_s']:.0f} audio s/s "
         f"(floor {s['floor']['steady_audio_s_per_s']:.0f})",
         f"{r['workers_1_vs_floor_steady']:.2f} / {r['workers_2_vs_floor_steady']:.2f}", "", ""),
        ("1 curation: CPU s of floor / CPU s of build, 1 / 2 workers", "",
         f"{r['cpu_floor_vs_workers_1']:.2f} / {r['cpu_floor_vs_workers_2']:.2f}", "", ""),
        ("1 curation: CPU cost, fixed + per utterance: floor / 1 / 2 workers",
         " / ".join(f"{s[k]['fixed_cpu_s']:.1f} s + {s[k]['cpu_ms_per_utterance']:.2f} ms"
                    for k in ("floor", "workers_1", "workers_2")),
         f"{r['cpu_per_utterance_floor_vs_workers_1']:.2f} / "
         f"{r['cpu_per_utterance_floor_vs_workers_2']:.2f}", "", ""),
        ("1 curation: 1 and 2 workers byte-identical", "", "", "",
         _ok(t["deterministic_1_vs_2_workers"])),
    ]
    return rows


def _memory_rows(m: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    n, n4 = m["runs"]["n"], m["runs"]["4n"]
    r = m["ratios"]["peak_tree_4n_vs_n"]
    return [
        (
            f"2 memory: peak RSS of the build tree, {m['workers']} workers, N = {n['utterances']}",
            f"N: {n['peak_tree_rss_mb']:.0f} MB, 4N: {n4['peak_tree_rss_mb']:.0f} MB "
            f"(largest process {n['peak_process_rss_mb']:.0f} / "
            f"{n4['peak_process_rss_mb']:.0f} MB)",
            f"{r:.2f}",
            "<= 1.25",
            _ok(r <= 1.25),
        )
    ]


def _registration_rows(g: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    ch = g["changed"]
    for name, st in g["stores"].items():
        if "skipped" in st:
            rows.append((f"3 registration ({name})", st["skipped"], "", "", ""))
            continue
        v1, ident, chg, r = st["v1"], st["identical_rebuild"], st["one_split_changed"], st["ratios"]
        rows += [
            (f"3 registration ({name}): v1", f"{v1['seconds']:.2f} s, "
             f"{_mb(v1['object_bytes_stored'])} stored", "", "", ""),
            (f"3 registration ({name}): identical rebuild",
             f"{ident['seconds']:.2f} s, {_mb(ident['object_bytes_stored'])} stored, "
             f"version {ident['tag']}", f"{ident['object_bytes_stored']} B",
             "0 B, no new version", _ok(st["targets"]["identical: no new version, 0 bytes"])),
            (f"3 registration ({name}): '{g['changed_split']}' changed",
             f"{chg['seconds']:.2f} s, {_mb(chg['object_bytes_stored'])} stored for "
             f"{_mb(ch['bytes'])} changed ({ch['shard_files']} shard files changed, "
             f"{ch['unchanged_shard_files']} not), version {chg['tag']}",
             f"{r['changed_stored_vs_changed_files']:.2f}", "<= 1.1",
             _ok(st["targets"]["changed: stored <= 1.1x changed files"])),
        ]
    real = g.get("lakefs_real")
    if real and "skipped" in real:
        rows.append(("3 registration (lakefs_real)", real["skipped"], "", "", ""))
    elif real:
        rows += _real_lakefs_rows(real, g["changed_split"])
    return rows


def _real_lakefs_rows(real: dict[str, Any], split: str) -> list[tuple[str, str, str, str, str]]:
    name = f"3 registration (lakeFS {real['lakefs_version']}, S3 block store)"
    local = real["local"]
    rows = [(f"{name}: local build, '{split}' changed",
             f"{local['changed']['seconds']:.2f} s, {_mb(local['changed']['sent_to_lakefs'])} sent "
             f"for {_mb(real['changed_bytes'])} changed (v1: {_mb(local['v1']['sent_to_lakefs'])})",
             f"{real['ratios']['local changed: sent vs changed files']:.2f}", "<= 1.1",
             _ok(real["ratios"]["local changed: sent vs changed files"] <= 1.1))]
    for step, label in (("v1", "v1"), ("changed", f"'{split}' changed")):
        c, i = real["bucket_copied"][step], real["bucket_imported"][step]
        rows.append((
            f"{name}: build in the bucket, {label}: through the launcher, imported vs copied",
            f"{_mb(i['through_launcher'])} in {i['seconds']:.2f} s (read {_mb(i['read_from_bucket'])}"
            f", sent {_mb(i['sent_to_lakefs'])}) vs {_mb(c['through_launcher'])} in "
            f"{c['seconds']:.2f} s (read {_mb(c['read_from_bucket'])}, sent "
            f"{_mb(c['sent_to_lakefs'])})",
            f"{real['ratios'][f'{step}: through launcher, imported vs copied']:.2f}", "", ""))
    return rows


def _loader_rows(lo: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    tf_, rd, r = lo["tf_data"], lo["reads"], lo["ratios"]
    return [
        (f"4 loaders: tf_dataset('{lo['split']}') vs TFRecordDataset + parse_example",
         f"{tf_['tf_dataset']['per_s']:.0f} vs {tf_['plain_parse_example']['per_s']:.0f} "
         f"examples/s (batched parse {tf_['plain_batched_parse_example']['per_s']:.0f}/s; "
         f"decoding audio {tf_['tf_dataset_decode_audio']['per_s']:.0f}/s)",
         f"{r['tf_dataset_vs_plain']:.2f}", ">= 0.9", _ok(r["tf_dataset_vs_plain"] >= 0.9)),
        (f"4 loaders: tf_dataset('{lo['split']}', batch_size=64) vs TFRecordDataset + batched "
         "parse_example",
         f"{tf_['tf_dataset_batched']['per_s']:.0f} vs "
         f"{tf_['plain_batched_parse_example']['per_s']:.0f} examples/s",
         f"{r['tf_dataset_batched_vs_plain_batched']:.2f}", ">= 0.9",
         _ok(r["tf_dataset_batched_vs_plain_batched"] >= 0.9)),
        ("4 loaders: ArrayRecord shuffled reads vs TFRecord sequential reads",
         f"{rd['array_record_shuffled']['per_s']:.0f} vs {rd['tfrecord_sequential']['per_s']:.0f} "
         f"records/s (ArrayRecord in order {rd['array_record_in_order']['per_s']:.0f}/s)",
         f"{r['array_record_shuffled_vs_tfrecord_sequential']:.2f}", "", ""),
    ]


_TRAINING = (  # (label, loader, baseline, ratio key, target)
    ("PyTorch map-style (ArrayRecord), 0 workers vs ArrayRecord + decoder", "torch_map_0",
     "raw_array_record", "torch_map_vs_raw_array_record", 0.9),
    ("PyTorch iterable (TFRecord), 0 workers vs TFRecord + decoder", "torch_stream_0",
     "raw_tfrecord", "torch_stream_vs_raw_tfrecord", 0.9),
    ("PyTorch map-style, num_workers 2 vs 0", "torch_map_2", "torch_map_0",
     "torch_map_2_vs_0_workers", 1.5),
    ("PyTorch iterable, num_workers 2 vs 0", "torch_stream_2", "torch_stream_0",
     "torch_stream_2_vs_0_workers", 1.5),
    ("PyTorch iterable, num_workers 2 (persistent, one loader for every epoch) vs 0",
     "torch_stream_2_persistent", "torch_stream_0", "torch_stream_2_persistent_vs_0_workers",
     1.5),
    ("Grain DataLoader, 0 workers vs ArrayRecord + decoder", "grain_0", "raw_array_record",
     "grain_vs_raw_array_record", 0.9),
    ("Grain DataLoader, 2 workers vs 0", "grain_2", "grain_0", "grain_2_vs_0_workers", 1.5),
    ("GrainSource.loader, 2 workers vs Grain DataLoader, 0", "grain_2_loader", "grain_0",
     "grain_2_loader_vs_0_workers", 1.5),
    ("PyTorch map-style, num_workers 2 vs 0, int16 audio", "torch_map_2_int16",
     "torch_map_0_int16", "torch_map_2_vs_0_workers_int16", 1.5),
    ("Grain DataLoader, 2 workers vs 0, int16 audio", "grain_2_int16", "grain_0_int16",
     "grain_2_vs_0_workers_int16", 1.5),
    ("HF datasets: build + iterate (audio bytes) vs ArrayRecord + decoder (no audio decoding)",
     "hf_build_and_iterate", "raw_array_record_bytes", "hf_vs_raw_array_record_bytes", 0.9),
    ("HF datasets: iterate once built vs ArrayRecord + decoder (no audio decoding)",
     "hf_iterate", "raw_array_record_bytes", "hf_built_vs_raw_array_record_bytes", 0.9),
    ("Ray Data, 2 CPUs vs ArrayRecord + decoder", "ray_iter_batches", "raw_array_record@ray",
     "ray_vs_raw_array_record", 0.9),
    ("PySpark local[2] scan vs ArrayRecord + decoder (no audio decoding)", "spark_scan",
     "raw_array_record_bytes@spark", "spark_vs_raw_array_record_bytes", 0.9),
)


def _training_rows(tr: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rates, ratios = tr["rates"], tr["ratios"]
    rows = []
    for label, a, b, key, target in _TRAINING:
        if key not in ratios:
            rows.append((f"5 training loaders: {label}", "not run (quick mode)", "", "", ""))
            continue
        rows.append((f"5 training loaders: {label}",
                     f"{rates[a]['per_s']:.0f} vs {rates[b]['per_s']:.0f} examples/s",
                     f"{ratios[key]:.2f}", f">= {target}", _ok(ratios[key] >= target)))
    steady, wcpu = tr.get("steady_ratios", {}), tr.get("worker_cpu_ratios", {})
    if steady:
        rows.append(("5 training loaders: 2 vs 0 workers after the first batch (start-up out)",
                     ", ".join(f"{k.replace('_2_vs_0_workers', '')} {v:.2f}"
                               for k, v in sorted(steady.items())), "", "", ""))
        rows.append(("5 training loaders: CPU per example, 2-worker tree / in-process",
                     ", ".join(f"{k.replace('_2_vs_0_workers', '')} {v:.2f}"
                               for k, v in sorted(wcpu.items())), "", "", ""))
    eff = tr.get("cpu_efficiency", {})
    if eff:
        rows.append(("5 training loaders: CPU per example, raw / loader (0 workers)",
                     ", ".join(f"{k} {v:.2f}" for k, v in sorted(eff.items())), "", "", ""))
    start = tr.get("startup_s", {})
    if start:
        rows.append(("5 training loaders: start-up, not timed above",
                     ", ".join(f"{k} {v:.1f} s" for k, v in sorted(start.items())), "", "", ""))
    return rows


def _import_rows(im: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    cmds = im["commands"]
    base = cmds["python -c pass"]["seconds"]
    rows = []
    for name, c in cmds.items():
        if name == "python -c pass":
            continue
        heavy = ", ".join(c["heavy_modules"]) or "none"
        rows.append((f"6 start-up: {name}", f"{c['seconds']:.2f} s (python -c pass {base:.2f} s); "
                     f"imports of Beam/TF/GX/torch: {heavy}", f"{c['seconds']:.2f} s", "< 1.0 s",
                     _ok(im["targets"][f"{name} < 1.0 s"])))
    return rows


def _incremental_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    from bench.incremental import rows

    return rows(r)


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []
    b = results.get("benchmarks", {})
    for key, fn in (
        ("throughput", _throughput_rows),
        ("memory", _memory_rows),
        ("registration", _registration_rows),
        ("loaders", _loader_rows),
        ("training", _training_rows),
        ("imports", _import_rows),
        ("incremental", _incremental_rows),
    ):
        if key in b and "error" not in b[key]:
            rows += fn(b[key])
        elif key in b:
            rows.append((key, f"failed: {b[key]['error']}", "", "", ""))
    head = ("benchmark", "measured", "ratio", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
