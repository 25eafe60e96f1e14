"""How a build uses its base (``curate.base.plan_base``), decided before anything is written,
and the carry-over decision from recorded signals (``curate.carry.decide_again``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from curate.base import BaseMode, plan_base
from curate.carry import decide_again
from curate.config import parse_config
from curate.errors import Reason, UsageError
from curate.layout import SCHEMA_VERSION
from curate.settings import build_settings, settings_sha256


class _NoFiles:
    def fetch(self, rel: str, sha256: str) -> str:  # never called by plan_base
        raise AssertionError(rel)


@dataclass
class _Base:
    info: dict[str, Any]
    ref: str = "ds@v1"
    commit_id: str = "c" * 64
    registry: str = ""
    files: _NoFiles = field(default_factory=_NoFiles)

    def base_files(self) -> _NoFiles:
        return self.files


def _config(**changes: Any):
    data = {"name": "ds", "sources": [{"kind": "jsonl", "path": "m.jsonl"}], **changes}
    return parse_config(data)


def _info_of(config, **changes: Any) -> dict[str, Any]:
    settings = build_settings(config)
    shard = {"path": "data/train/ds-train.tfrecord-00004", "sha256": "s", "size_bytes": 9,
             "num_examples": 3}
    info = {"name": config.name, "schema_version": SCHEMA_VERSION, "fingerprint": "f",
            "config": config.resolved(), "settings": settings,
            "settings_sha256": settings_sha256(settings),
            "splits": {"train": {"shards": {"tfrecord": [shard]}, "manifest": [
                {"path": "manifest/train/00004.parquet", "sha256": "m", "size_bytes": 1,
                 "num_examples": 3}]}},
            "files": {"manifest/train/00004.parquet": {"sha256": "m", "size_bytes": 1},
                      shard["path"]: {"sha256": "s", "size_bytes": 9}}}
    info.update(changes)
    return info


def test_a_base_with_the_same_settings_is_used_incrementally():
    config = _config()
    plan = plan_base(config, _Base(_info_of(config)), build_settings(config))
    assert plan.mode is BaseMode.INCREMENTAL and plan.reason == ""
    assert plan.first_free() == {"train": 5}  # after the base's last index
    (kept,) = plan.shards["train"]
    assert kept.index == 4 and kept.manifest["path"] == "manifest/train/00004.parquet"
    assert kept.manifest["sha256"] == "m"  # what a kept shard's manifest is copied from


def test_a_changed_filter_is_still_incremental_a_changed_codec_is_a_full_rebuild():
    base = _config()
    tighter = _config(filters={"max_duration_s": 5.0})
    assert plan_base(tighter, _Base(_info_of(base)), build_settings(tighter)).incremental
    wav = _config(audio={"codec": "wav"})
    plan = plan_base(wav, _Base(_info_of(base)), build_settings(wav))
    assert plan.mode is BaseMode.FULL and "audio.codec flac -> wav" in plan.reason


@pytest.mark.parametrize("changes, message", [
    ({"name": "other"}, "is a version of 'other', and this config builds 'ds'"),
    ({"schema_version": 1}, "built with layout 1, this build writes layout"),
    # layout 2: one manifest per split, which a build on it cannot keep per shard
    ({"schema_version": 2}, "built with layout 2, this build writes layout 3: build it again"),
    ({"schema_version": SCHEMA_VERSION + 1}, "upgrade curate-speech"),
])
def test_a_base_it_cannot_use_is_a_one_line_usage_error(changes, message):
    config = _config()
    with pytest.raises(UsageError, match=message) as e:
        plan_base(config, _Base(_info_of(config, **changes)), build_settings(config))
    assert "\n" not in str(e.value) and e.value.exit_code == 2


def _row(**signals: Any) -> dict[str, Any]:
    row = {"pcm_sha256": "p", "duration_s": 3.0, "rms_dbfs": -20.0, "peak_dbfs": -3.0,
           "clipping_ratio": 0.0, "silence_ratio": 0.1, "snr_db": 20.0, "chars_per_s": 10.0, "words_per_s": 2.0}
    return {**row, **signals}


def test_recorded_signals_decide_again_as_the_filters_would():
    assert decide_again("some words", _row(), _config()) is None
    reason, detail = decide_again("some words", _row(duration_s=6.0),
                                  _config(filters={"max_duration_s": 5.0}))
    assert reason is Reason.TOO_LONG and "max_duration_s 5" in detail
    assert decide_again("some words", {"pcm_sha256": None}, _config()) is False  # not measured
