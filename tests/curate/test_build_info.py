"""The build directory's own files: the per-shard manifest files (written, read back as one
table in shard order, the split summary of all of them) and the accounting check before
dataset_info.json."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.build_info import (
    manifest_schema,
    read_manifest,
    summarize_manifest,
    write_manifest,
    write_shard_manifest,
)
from curate.features import feature_spec, model_fields
from curate.layout import manifest_file
from curate.stats import summarize_split


def _rows(shard: int, n: int, fields: tuple[str, ...] = ()) -> list[dict]:
    rng = np.random.default_rng(shard)
    rows = []
    for position in range(n):
        row = {}
        for f in manifest_schema(fields):
            if pa.types.is_string(f.type):
                row[f.name] = f"{f.name}-{shard}-{position}"
            elif pa.types.is_integer(f.type):
                row[f.name] = position
            else:
                row[f.name] = float(np.float32(rng.uniform(0.5, 20.0)))  # as the column holds it
        row.update(key=f"k{shard:03d}-{position:04d}", speaker=f"spk{position % 7}", shard=shard,
                   position=position)
        rows.append(row)
    return rows


def _info(entries_by_split: dict, fields: tuple[str, ...] = ()) -> dict:
    return {"splits": {split: {"manifest": entries} for split, entries in
                       entries_by_split.items()},
            "feature_spec": feature_spec(fields), "files": {}}


def test_a_shard_manifest_file_reads_back_as_written(tmp_path):
    fields = model_fields(["vad"])
    rows = _rows(3, 7, fields)
    written = write_shard_manifest(str(tmp_path), "train", 3, rows, fields)
    path = tmp_path / "manifest" / "train" / "00003.parquet"
    assert written.path == manifest_file("train", 3) == "manifest/train/00003.parquet"
    assert written.size_bytes == path.stat().st_size
    import hashlib

    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    table = pq.read_table(path)
    assert table.schema == manifest_schema(fields)
    assert table.to_pylist() == rows
    again = write_shard_manifest(str(tmp_path / "again"), "train", 3, rows, fields)
    assert again.sha256 == written.sha256  # the same rows, the same bytes


def test_the_split_reads_as_one_table_in_shard_order_with_the_summary_of_all_rows(tmp_path):
    fields = model_fields(["vad"])
    shards = {7: 5, 2: 9, 11: 3}  # gaps between indices; written out of order
    everything = [r for index in sorted(shards) for r in _rows(index, shards[index], fields)]
    entries, summary = write_manifest(str(tmp_path), "train", reversed(everything), fields)
    assert [e["path"] for e in entries] == [manifest_file("train", i) for i in (2, 7, 11)]
    assert [e["num_examples"] for e in entries] == [9, 5, 3]
    info = _info({"train": entries}, fields)
    table = read_manifest(info, "train", lambda rel: str(tmp_path / rel))
    assert table.schema == manifest_schema(fields)
    # each file holds its shard's rows in the order given (here reversed), files in shard order
    expected = [r for i in (2, 7, 11) for r in reversed(_rows(i, shards[i], fields))]
    assert table.to_pylist() == expected
    one = read_manifest(info, "train", lambda rel: str(tmp_path / rel), shard=7,
                        columns=["key", "position"])
    assert one.column_names == ["key", "position"] and one.num_rows == 5

    columns = {name: [r[name] for r in expected] for name in expected[0]}  # as the files hold
    assert summary == summarize_split(columns)
    assert summary["num_examples"] == 17 and summary["num_speakers"] == 7
    assert summary["signals"]["vad_speech_ratio"]["count"] == 17
    assert summary["duration_s"] == pytest.approx(sum(columns["duration_s"]))


def test_a_split_without_examples_has_no_file_and_reads_as_an_empty_table(tmp_path):
    fields = model_fields(["vad"])
    entries, summary = write_manifest(str(tmp_path), "test", [], fields)
    assert entries == [] and not (tmp_path / "manifest").exists()
    table = read_manifest(_info({"test": entries}, fields), "test", lambda rel: 1 / 0)
    assert table.num_rows == 0 and table.schema == manifest_schema(fields)
    assert summary["num_examples"] == 0 and summary["duration_s"] == 0.0
    assert summary["signals"] == {}
    assert summarize_manifest([]) == summary


def test_a_layout_2_version_reads_from_its_one_manifest_file(tmp_path):
    rows = _rows(0, 4) + _rows(1, 2)
    (tmp_path / "manifest").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=manifest_schema()),
                   tmp_path / "manifest" / "train.parquet")
    info = {"splits": {"train": {}}, "files": {"manifest/train.parquet": {}},
            "feature_spec": feature_spec()}
    assert read_manifest(info, "train", lambda rel: str(tmp_path / rel)).to_pylist() == rows
    assert read_manifest(info, "train", lambda rel: str(tmp_path / rel), shard=1).num_rows == 6


def test_inputs_that_do_not_add_up_stop_the_build_naming_the_counts(tmp_path):
    from curate.build import _finalize
    from curate.config import parse_config
    from curate.errors import AccountingError, CurateError, Reason, Stage
    from curate.records import Rejection

    config = parse_config({"name": "ds", "sources": [{"kind": "jsonl", "path": "m.jsonl"}]})
    lost = Rejection(key="k1", source_uri="m.jsonl", audio_uri="a.wav", stage=Stage.FILTER,
                     reason=Reason.TOO_SHORT, detail="0.1 s")
    with pytest.raises(AccountingError) as e:  # 1 rejected, nothing accepted, 3 read: 2 lost
        _finalize(None, output_dir=str(tmp_path), config=config, models=None, shards=[],
                  summaries=[], rejections=[lost], read=3)
    assert isinstance(e.value, CurateError)
    assert str(e.value) == "inputs do not add up: accepted 0 + rejected 1 = 1, but 3 were read"
    assert (e.value.read, e.value.accepted, e.value.rejected) == (3, 0, 1)
    assert not (tmp_path / "dataset_info.json").exists()  # the build is not complete


def test_build_files_never_hold_infinity_and_reports_write_it_as_null():
    """``Infinity`` used to be written into dataset_info.json; strict JSON readers refuse it.
    A build's own files refuse to be written with one (a bug fails loudly), reports from
    other libraries write it as null."""
    import doctest
    import math

    from curate import strict_json
    from curate.build_info import _json_bytes

    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="not JSON compliant"):
            _json_bytes({"splits": {"train": {"duration_s": bad}}})
    assert doctest.testmod(strict_json).failed == 0
    assert strict_json.dumps({"x": (1.0, math.inf)}) == '{"x": [1.0, null]}'
