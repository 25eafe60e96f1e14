"""The build config: YAML validated with pydantic, errors that name the field.

Relative source paths are resolved against the config file's directory, so a config and its
corpus can move together.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate import fsio
from curate.errors import ConfigError
from curate.layout import ShardFormat
from curate.models.config import ModelSignalsConfig

__all__ = [
    "AudioCodec",
    "AudioConfig",
    "BuildConfig",
    "CardConfig",
    "FilterConfig",
    "ShardConfig",
    "SourceConfig",
    "SourceKind",
    "SplitBy",
    "SplitConfig",
    "load_config",
    "split_name_problem",
]


class _Strict(BaseModel):
    # allow_inf_nan=False: YAML's .inf / .nan are no bounds, and dataset_info.json (which holds
    # the resolved config) must stay strict JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceKind(str, enum.Enum):
    LIBRISPEECH = "librispeech"  # <spk>/<chapter>/<spk>-<chapter>-<utt>.flac + .trans.txt
    JSONL = "jsonl"  # NeMo manifest: audio_filepath, text, [speaker], [duration]
    TSV = "tsv"  # Common Voice validated.tsv (client_id, path, sentence, ...); CSV by extension
    KALDI = "kaldi"  # data dir: wav.scp, text, utt2spk, [segments]


class AudioCodec(str, enum.Enum):
    FLAC = "flac"
    WAV = "wav"  # 16-bit PCM


class SplitBy(str, enum.Enum):
    SPEAKER = "speaker"  # no speaker crosses splits
    KEY = "key"


class SourceConfig(_Strict):
    kind: SourceKind
    path: str = Field(description="corpus root (librispeech), manifest file (jsonl, tsv) or data dir (kaldi)")
    audio_root: str | None = Field(
        default=None,
        description="base of relative audio paths; default: the manifest's directory "
        "(jsonl), '<tsv dir>/clips' (tsv), the data dir (kaldi)",
    )
    key_prefix: str = ""


class AudioConfig(_Strict):
    sample_rate_hz: Annotated[int, Field(ge=8000, le=192000)] = 16000
    channels: Literal[1, 2] = 1
    codec: AudioCodec = AudioCodec.FLAC


class FilterConfig(_Strict):
    min_duration_s: Annotated[float, Field(ge=0)] = 0.2
    max_duration_s: Annotated[float, Field(gt=0)] = 30.0
    max_clipping_ratio: Annotated[float, Field(ge=0, le=1)] = 0.01
    max_silence_ratio: Annotated[float, Field(ge=0, le=1)] = 0.95
    min_snr_db: float | None = None
    min_chars_per_s: Annotated[float, Field(ge=0)] | None = None
    max_chars_per_s: Annotated[float, Field(gt=0)] | None = 40.0
    allow_empty_text: bool = False

    @model_validator(mode="after")
    def _ranges(self) -> FilterConfig:
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError("min_duration_s must be below max_duration_s")
        if (
            self.min_chars_per_s is not None
            and self.max_chars_per_s is not None
            and self.min_chars_per_s >= self.max_chars_per_s
        ):
            raise ValueError("min_chars_per_s must be below max_chars_per_s")
        return self


def split_name_problem(name: object) -> str | None:
    """Why ``name`` is no valid split name (None if it is one): letters, digits, ``-`` or ``_``.

    Split names become file names (``manifest/<split>/…``, ``data/<split>/…``), so every
    reader of a build checks the names it finds with this same rule before making a path.

    >>> split_name_problem("train-clean_100") is None
    True
    >>> split_name_problem("../../tmp/x")
    "split name '../../tmp/x' must be letters, digits, '-' or '_'"
    """
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        return f"split name {name!r} must be letters, digits, '-' or '_'"
    return None


class SplitConfig(_Strict):
    by: SplitBy = SplitBy.SPEAKER
    salt: str = "curate-split-v1"
    ratios: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1}
    )

    @model_validator(mode="after")
    def _ratios(self) -> SplitConfig:
        if not self.ratios:
            raise ValueError("at least one split is needed")
        for name in self.ratios:
            problem = split_name_problem(name)
            if problem:
                raise ValueError(problem)
        total = sum(self.ratios.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, got {total:g}")
        return self


class ShardConfig(_Strict):
    target_size_mb: Annotated[float, Field(gt=0)] = 256.0
    formats: list[ShardFormat] = Field(
        default_factory=lambda: [ShardFormat.TFRECORD, ShardFormat.ARRAY_RECORD], min_length=1
    )
    salt: str = "curate-shard-v1"


class CardConfig(_Strict):
    """What ``CARD.md``'s front matter says of the data that the data cannot say itself."""

    license: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")] = Field(
        default="unknown", description="a license id as Hugging Face lists them: cc-by-4.0, mit, other, ..."
    )
    language: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$")]] = Field(
        default_factory=list, description="ISO 639 codes of the speech (default: langid's languages)"
    )


class BuildConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=63)]
    sources: list[SourceConfig] = Field(min_length=1)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    splits: SplitConfig = Field(default_factory=SplitConfig)
    shards: ShardConfig = Field(default_factory=ShardConfig)
    # Model-based signals (VAD, ASR agreement, language ID): ``pip install .[signals]``.
    # None (the default) keeps configs without the section hashing as they always did.
    signals: ModelSignalsConfig | None = None
    # What the dataset card says of the data (license, language); None: "unknown", no language.
    card: CardConfig | None = None

    @property
    def enabled_models(self) -> tuple[str, ...]:
        return () if self.signals is None else self.signals.enabled

    @property
    def languages(self) -> tuple[str, ...]:
        """The card's languages, else those language ID accepts (when it is on), else none."""
        if self.card is not None and self.card.language:
            return tuple(self.card.language)
        if self.signals is not None and self.signals.langid.enabled:
            return tuple(self.signals.langid.languages)
        return ()

    def resolved(self) -> dict[str, Any]:
        """The config as plain JSON data, as stored in ``dataset_info.json``."""
        data = self.model_dump(mode="json")
        for section in ("signals", "card"):  # absent, as in configs written before they existed
            if data[section] is None:
                del data[section]
        return data

    def config_hash(self) -> str:
        data = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode()).hexdigest()


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(data: Any, *, origin: str = "config", base_dir: str | None = None) -> BuildConfig:
    """Validate config data; local source paths lose a ``file://`` scheme, and relative ones
    are resolved against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    try:
        config = BuildConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = _field_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{origin}: {where}: {msg}{more}") from None
    if base_dir is None:
        return config
    sources = []
    for src in config.sources:
        update = {}
        for field in ("path", "audio_root"):
            value = getattr(src, field)
            if value and fsio.is_local(value):
                path = fsio.local_path(value)
                update[field] = path if os.path.isabs(path) else os.path.normpath(
                    os.path.join(base_dir, path))
        sources.append(src.model_copy(update=update))
    return config.model_copy(update={"sources": sources})


def _exists(path: str) -> bool:
    """A file, a directory, or an object-store prefix holding objects (S3 and GCS have no
    directories: a LibriSpeech tree in a bucket is only the objects under its prefix)."""
    return fsio.exists(path) or fsio.holds_files(path)


def load_config(path: str, *, check_paths: bool = True) -> BuildConfig:
    """Load and validate a YAML build config; ``check_paths`` verifies every source exists."""
    if not fsio.exists(path):
        raise ConfigError(f"{path}: config file not found")
    try:
        with fsio.open_read(path) as f:
            raw = f.read()
    except (IsADirectoryError, PermissionError, OSError) as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror or e})") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML: {getattr(e, 'problem', e)}") from None
    base = os.path.dirname(os.path.abspath(fsio.local_path(path))) if fsio.is_local(path) else None
    config = parse_config(data, origin=path, base_dir=base)
    if check_paths:
        for i, src in enumerate(config.sources):
            if not _exists(src.path):
                raise ConfigError(f"{path}: sources[{i}].path: not found: {src.path}")
    return config
