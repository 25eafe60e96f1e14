"""What a report shows, gathered from a build (and the build it is compared with).

Everything is driven by the build's own files: the splits and signals are those of
``stats.json`` (any signal a build adds, a model's included, gets its histogram without a
change here), the rejection reasons those of ``rejected.parquet``, the example fields the
manifest's columns. Examples are chosen by the sha256 of their key, so the same build always
shows the same ones; accepted examples come from each split's first shard, which holds a
random sample of the split (examples go to shards by a salted hash of their key) and is the
one shard that has to be read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from curate.report.clips import Clip, Unplayable, example_clips, source_clip
from curate.layout import REJECTED_FILE, ShardFormat, shard_index
from curate.report.inputs import ReportInput
from curate.validation.errors import BuildReadError
from curate.report.svg import histogram_svg

__all__ = [
    "AROUND_PEAK",
    "Example",
    "Plot",
    "Reason",
    "Report",
    "Split",
    "gather",
    "signal_order",
]

AROUND_PEAK = frozenset({"clipped"})  # reasons whose excerpt is centred on the loudest sample
_HIDDEN = frozenset({"key", "text", "speaker", "shard", "position", "audio_sha256",
                     "pcm_sha256", "source_uri", "audio_uri", "num_samples"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Plot:
    signal: str
    label: str
    svg: str
    count: int
    summary: Mapping[str, float]  # p05, p50, p95, mean (absent without values)
    distance: float | None  # JS distance to the baseline's histogram of this split


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    key: str
    title: str  # the transcript, or the rejection's detail
    rows: tuple[tuple[str, str], ...]  # (label, value) shown under it
    clip: Clip | Unplayable


@dataclass(frozen=True, kw_only=True, slots=True)
class Split:
    name: str
    num_examples: int
    num_speakers: int
    hours: float
    num_shards: int
    baseline: Mapping[str, Any] | None  # the baseline's summary of this split
    plots: tuple[Plot, ...]
    examples: tuple[Example, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Reason:
    reason: str
    stage: str
    count: int
    examples: tuple[Example, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    build: ReportInput
    baseline: ReportInput | None
    splits: tuple[Split, ...]
    reasons: tuple[Reason, ...]
    drift: Mapping[str, float]  # signal -> JS distance over all splits pooled
    excerpt_s: float


def signal_order(names: Sequence[str]) -> list[str]:
    """``stats.json``'s signals in the order of :data:`curate.stats.BINS`, then any others."""
    from curate.stats import BINS

    known = [s for s in BINS if s in names]
    return known + sorted(s for s in names if s not in BINS)


def _by_hash(keys: Sequence[str]) -> list[int]:
    """Indices of ``keys`` in the order of their sha256: a sample that is the same each time."""
    return sorted(range(len(keys)), key=lambda i: hashlib.sha256(keys[i].encode()).digest())


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _plots(split: str, signals: Mapping[str, Any], base: Mapping[str, Any] | None,
           baseline_label: str) -> tuple[Plot, ...]:
    from curate.stats import label
    from curate.validation.drift import js_distance

    plots = []
    for signal in signal_order(list(signals)):
        summary = signals[signal]
        hist = summary.get("histogram")
        if not hist:
            continue
        base_hist = ((base or {}).get(signal) or {}).get("histogram")
        if base_hist and base_hist["edges"] != hist["edges"]:
            base_hist = None  # binned differently (an older build): nothing to overlay
        baseline = base_hist["counts"] if base_hist else None
        title = f"{label(signal)}, {split}"
        plots.append(Plot(
            signal=signal,
            label=label(signal),
            svg=histogram_svg(hist["edges"], hist["counts"], title=title, baseline=baseline,
                              baseline_label=baseline_label),
            count=int(summary.get("count", 0)),
            summary={k: summary[k] for k in ("p05", "p50", "p95", "mean") if k in summary},
            distance=None if baseline is None else js_distance(hist["counts"], baseline),
        ))
    return tuple(plots)


def _pooled_drift(stats: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, float]:
    from curate.validation.drift import js_distance

    def pooled(s: Mapping[str, Any]) -> dict[str, tuple[list[float], list[int]]]:
        out: dict[str, tuple[list[float], list[int]]] = {}
        for split in s["splits"].values():
            for signal, summary in split.get("signals", {}).items():
                h = summary.get("histogram")
                if not h:
                    continue
                edges, counts = out.get(signal, (h["edges"], [0] * len(h["counts"])))
                if edges == h["edges"]:
                    out[signal] = (edges, [a + b for a, b in zip(counts, h["counts"])])
        return out

    now, before = pooled(stats), pooled(base)
    return {s: js_distance(now[s][1], before[s][1])
            for s in signal_order(list(now)) if s in before and before[s][0] == now[s][0]}


def _accepted(build: ReportInput, split: str, k: int, excerpt_s: float) -> tuple[Example, ...]:
    from curate.stats import label

    shards = build.info["splits"].get(split, {}).get("shards", {}).get(ShardFormat.TFRECORD.value, [])
    if not (k and shards):
        return ()
    index = shard_index(shards[0]["path"])
    from curate.build_info import read_manifest

    try:
        manifest = read_manifest(build.info, split, lambda rel: _parquet(build, rel),
                                 shard=index)
    except BuildReadError:
        raise
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise BuildReadError(f"{build.label}: the manifest of shard {index} of {split!r} is "
                             f"not readable Parquet ({e})") from e
    first = manifest.filter(manifest.column("shard").to_numpy() == index).to_pylist()
    if not first:
        return ()
    rows = [first[i] for i in _by_hash([r["key"] for r in first])[:k]]
    path = shards[0]["path"]
    with build.open(path) as f:
        clips = example_clips(f, [r["position"] for r in rows], name=path, seconds=excerpt_s)
    out = []
    for r in rows:
        fields = [("speaker", _format(r.get("speaker")))]  # then signals, model outputs (not
        fields += [(label(name), _format(v)) for name, v in r.items()  # the models' ids)
                   if name not in _HIDDEN and not name.endswith("_model") and v is not None]
        fields.append(("source", _format(r.get("audio_uri"))))
        out.append(Example(key=r["key"], title=r.get("text") or "", rows=tuple(fields),
                           clip=clips[r["position"]]))
    return tuple(out)


def _parquet(build: ReportInput, rel: str) -> Any:
    import pyarrow as pa

    data = build.read(rel)
    if data is None:
        raise BuildReadError(f"{build.label}: {rel} is missing")
    return pa.BufferReader(data)


def _reasons(build: ReportInput, k: int, excerpt_s: float) -> tuple[Reason, ...]:
    table = build.table(REJECTED_FILE)
    rows = table.to_pylist() if table is not None else []
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_reason.setdefault(r["reason"], []).append(r)
    counts = dict(build.info.get("rejected_by_reason") or {r: len(v) for r, v in by_reason.items()})
    out = []
    for reason, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        listed = by_reason.get(reason, [])
        chosen = [listed[i] for i in _by_hash([r["key"] for r in listed])[:k]]
        examples = []
        for r in chosen:
            uri = r.get("audio_uri") or ""
            clip = source_clip(uri, seconds=excerpt_s, around_peak=reason in AROUND_PEAK) \
                if uri else Unplayable(why="the input names no audio file")
            examples.append(Example(
                key=r["key"], title=r.get("detail") or "",
                rows=(("stage", r.get("stage") or ""), ("listed in", r.get("source_uri") or ""),
                      ("audio", uri or "(none)")),
                clip=clip,
            ))
        stage = listed[0]["stage"] if listed else ""
        out.append(Reason(reason=reason, stage=stage, count=int(count), examples=tuple(examples)))
    return tuple(out)


def gather(build: ReportInput, *, baseline: ReportInput | None = None, examples: int = 3,
           rejected_examples: int = 3, excerpt_s: float = 4.0) -> Report:
    """The report of ``build``: ``examples`` accepted examples per split and
    ``rejected_examples`` per rejection reason, each with an excerpt of ``excerpt_s`` at most."""
    from curate.validation.tables import split_names

    stats = build.stats()
    base_stats = baseline.stats() if baseline is not None else None
    base_label = baseline.label if baseline is not None else ""
    ratios = build.info.get("config", {}).get("splits", {}).get("ratios", {})
    splits = []  # the largest first, as the build's summary lists them
    for name in sorted(split_names(build.info), key=lambda n: (-ratios.get(n, 0), n)):
        s = stats["splits"].get(name)
        if s is None:
            continue
        base = (base_stats or {"splits": {}})["splits"].get(name)
        info = build.info["splits"].get(name, {})
        shards = next(iter(info.get("shards", {}).values()), [])
        splits.append(Split(
            name=name,
            num_examples=int(s.get("num_examples", 0)),
            num_speakers=int(s.get("num_speakers", 0)),
            hours=float(s.get("hours", 0.0)),
            num_shards=len(shards),
            baseline=base,
            plots=_plots(name, s.get("signals", {}), (base or {}).get("signals"), base_label),
            examples=_accepted(build, name, examples, excerpt_s),
        ))
    return Report(
        build=build,
        baseline=baseline,
        splits=tuple(splits),
        reasons=_reasons(build, rejected_examples, excerpt_s),
        drift=_pooled_drift(stats, base_stats) if base_stats is not None else {},
        excerpt_s=excerpt_s,
    )
