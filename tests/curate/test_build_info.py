"""The build directory's own files: the manifest merge (parts in order, one at a time, and
the split summary of all of them) and the accounting check before dataset_info.json."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.build_info import (
    manifest_schema,
    manifest_table,
    merge_manifest,
    read_manifest_part,
    write_manifest_part,
)
from curate.features import model_fields
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


def test_parts_are_merged_in_order_with_the_summary_of_all_rows(tmp_path):
    fields = model_fields(["vad"])
    parts = [_rows(shard, n, fields) for shard, n in enumerate([5, 0, 9, 3])]  # an empty shard too
    paths = [write_manifest_part(str(tmp_path / f"part-{i}.parquet"), rows, fields)
             for i, rows in enumerate(parts)]
    written, summary = merge_manifest(str(tmp_path / "build"), "train",
                                      (read_manifest_part(p) for p in paths), fields)

    path = tmp_path / "build" / "manifest" / "train.parquet"
    assert written.path == "manifest/train.parquet"
    assert written.size_bytes == path.stat().st_size
    table = pq.read_table(path)
    assert table.schema == manifest_schema(fields)
    everything = [r for rows in parts for r in rows]
    assert table.to_pylist() == everything
    assert pq.ParquetFile(path).num_row_groups == 3  # one per non-empty part

    columns = {name: [r[name] for r in everything] for name in everything[0]}
    assert summary == summarize_split(columns)
    assert summary["num_examples"] == 17 and summary["num_speakers"] == 7
    assert summary["signals"]["vad_speech_ratio"]["count"] == 17
    assert summary["duration_s"] == pytest.approx(sum(columns["duration_s"]))


def test_merge_holds_one_part_at_a_time(tmp_path):
    """What lets one worker merge a split of millions of examples: a part is dropped once it is
    written, so by the time part k+1 is asked for, part k-1 is gone."""
    alive: list[weakref.ref] = []

    def parts():
        for shard in range(6):
            gc.collect()
            assert [r() is None for r in alive[:-1]] == [True] * max(len(alive) - 1, 0), shard
            table = manifest_table(_rows(shard, 50))
            alive.append(weakref.ref(table))
            yield table

    _, summary = merge_manifest(str(tmp_path), "train", parts())
    assert len(alive) == 6 and summary["num_examples"] == 300


def test_a_split_without_parts_gets_an_empty_manifest(tmp_path):
    _, summary = merge_manifest(str(tmp_path), "test", iter(()))
    table = pq.read_table(tmp_path / "manifest" / "test.parquet")
    assert table.num_rows == 0 and table.schema == manifest_schema()
    assert summary["num_examples"] == 0 and summary["duration_s"] == 0.0
    assert summary["signals"] == {}


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
                  manifests=[], rejections=[lost], read=3)
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
