from __future__ import annotations

import pytest

from curate.config import BuildConfig, load_config, parse_config
from curate.errors import ConfigError

BASE = {"name": "ds", "sources": [{"kind": "jsonl", "path": "m.jsonl"}]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"bogus": 1}, "bogus: unknown field"),
        ({"sources": [{"kind": "wav", "path": "x"}]}, "sources[0].kind: Input should be"),
        ({"sources": [{"kind": "jsonl"}]}, "sources[0].path: Field required"),
        ({"audio": {"sample_rate_hz": 100}}, "audio.sample_rate_hz: Input should be greater"),
        ({"splits": {"ratios": {"train": 0.5}}}, "splits: split ratios must sum to 1"),
        ({"filters": {"min_duration_s": 5, "max_duration_s": 2}}, "filters: min_duration_s must be below"),
        ({"name": "Bad Name"}, "name: String should match pattern"),
        ({"shards": {"formats": ["parquet"]}}, "shards.formats[0]: Input should be"),
        ({"card": {"license": "CC BY 4.0"}}, "card.license: String should match pattern"),
        ({"card": {"language": ["English"]}}, "card.language[0]: String should match pattern"),
    ],
)
def test_config_errors_name_the_field(change, message):
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, **change}, origin="c.yaml")
    assert str(e.value).startswith(f"c.yaml: {message}"), str(e.value)
    assert "\n" not in str(e.value)


def test_relative_paths_resolve_against_the_config_dir(tmp_path):
    (tmp_path / "m.jsonl").write_text("")
    (tmp_path / "c.yaml").write_text("name: ds\nsources:\n  - kind: jsonl\n    path: m.jsonl\n")
    cfg = load_config(str(tmp_path / "c.yaml"))
    assert cfg.sources[0].path == str(tmp_path / "m.jsonl")
    assert isinstance(cfg, BuildConfig) and cfg.audio.sample_rate_hz == 16000


def test_missing_source_path_and_bad_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("name: ds\nsources:\n  - kind: jsonl\n    path: nope.jsonl\n")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.path: not found: .*nope.jsonl"):
        load_config(str(tmp_path / "c.yaml"))
    (tmp_path / "b.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(tmp_path / "b.yaml"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "none.yaml"))


def test_a_directory_given_as_the_config_is_a_config_error(tmp_path):
    # regression: this was an IsADirectoryError traceback from `curate build DIR`
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(str(tmp_path))


def test_config_hash_is_stable_and_sensitive():
    a = parse_config(BASE)
    assert a.config_hash() == parse_config(dict(BASE)).config_hash()
    assert a.config_hash() != parse_config({**BASE, "audio": {"codec": "wav"}}).config_hash()


def test_the_card_section_is_optional_and_leaves_older_configs_hashing_as_before():
    plain = parse_config(BASE)
    assert "card" not in plain.resolved() and plain.languages == ()
    carded = parse_config({**BASE, "card": {"license": "cc-by-4.0", "language": ["en", "fr"]}})
    assert carded.resolved()["card"] == {"license": "cc-by-4.0", "language": ["en", "fr"]}
    assert carded.config_hash() != plain.config_hash() and carded.languages == ("en", "fr")
    langid = parse_config({**BASE, "signals": {"langid": {"enabled": True, "languages": ["de"]}}})
    assert langid.languages == ("de",)  # what language ID accepts, when the card names none
