"""``CARD.md``: the dataset card a person reads, written from the build's own numbers.

It starts with Hugging Face-style YAML front matter (license, language, task, size category),
so that it reads as a dataset card where people expect one, and links the build's report
(``report.html``, written beside it), which has the plots and the examples to listen to.

Deterministic (no dates, no hostnames): it is part of the build and of its fingerprint.

>>> bar(1, 500), bar(250, 500), bar(500, 500)
('▏', '████████████', '████████████████████████')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from curate.layout import REPORT_FILE
from curate.stats import BINS, label

__all__ = ["REPORT_LINK", "bar", "front_matter", "render_card", "size_category"]

REPORT_LINK = REPORT_FILE  # CARD.md and report.html sit side by side
_EIGHTHS = " ▏▎▍▌▋▊▉"
_TASK = "automatic-speech-recognition"
# Hugging Face's size categories, by number of examples.
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
          (1_000_000_000, "100M<n<1B"))


def bar(count: int, most: int, width: int = 24) -> str:
    """A bar of ``width`` characters for ``most``, in eighths of a character; a count above
    zero is never less than one eighth, so a bin with one utterance shows."""
    if count <= 0 or most <= 0:
        return ""
    eighths = max(1, round(8 * width * count / most))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def size_category(examples: int) -> str:
    """Hugging Face's ``size_categories`` value for a dataset of ``examples``.

    >>> size_category(121), size_category(2000), size_category(10**9)
    ('n<1K', '1K<n<10K', 'n>1B')
    """
    return next((name for bound, name in _SIZES if examples < bound), "n>1B")


def _yaml_list(key: str, values: Sequence[str]) -> list[str]:
    return [f"{key}:", *(f"- {_scalar(v)}" for v in values)]


def _scalar(value: str) -> str:
    """A YAML scalar: plain when it is safe, else double-quoted (JSON's escaping is YAML's)."""
    import json

    plain = value and value[0].isalnum() and all(c.isalnum() or c in "-_.<>" for c in value)
    return value if plain else json.dumps(value, ensure_ascii=False)


def front_matter(*, name: str, examples: int, license: str, languages: Sequence[str]) -> str:
    """The YAML block that opens the card (``language`` only when the build names some)."""
    lines = ["---", f"pretty_name: {_scalar(name)}", f"license: {_scalar(license)}"]
    if languages:
        lines += _yaml_list("language", languages)
    lines += _yaml_list("task_categories", [_TASK])
    lines += _yaml_list("size_categories", [size_category(examples)])
    lines += _yaml_list("tags", ["curate-speech"])
    return "\n".join([*lines, "---"])


def render_card(
    *,
    name: str,
    counts: Mapping[str, int],
    rejected_by_reason: Mapping[str, int],
    stats: Mapping[str, Any],
    audio: Mapping[str, Any],
    models: Mapping[str, Any] | None,
    license: str = "unknown",
    languages: Sequence[str] = (),
) -> str:
    """The card's Markdown text."""
    splits = stats["splits"]
    lines = [
        front_matter(name=name, examples=counts["accepted"], license=license,
                     languages=languages),
        "",
        f"# {name}",
        "",
        f"{counts['accepted']} examples accepted of {counts['read']} inputs read "
        f"({counts['rejected']} rejected). Audio: {audio['sample_rate_hz']} Hz, "
        f"{audio['channels']} channel(s), {audio['codec']}.",
        "",
        f"The build's report, [{REPORT_LINK}]({REPORT_LINK}), has the histogram of every "
        "signal per split and rejected and kept examples to listen to.",
        "",
        "| split | examples | speakers | hours |",
        "|---|---:|---:|---:|",
    ]
    for split, s in splits.items():
        lines.append(f"| {split} | {s['num_examples']} | {s['num_speakers']} | {s['hours']:.3f} |")
    if rejected_by_reason:
        lines += ["", "## Rejected inputs", "", "| reason | inputs |", "|---|---:|"]
        for reason, n in sorted(rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"| `{reason}` | {n} |")
    if models:
        lines += ["", "## Signal models", ""]
        lines += [f"- {m}: `{d.get('model_id', '?')}`" for m, d in sorted(models.items())]
    lines += ["", "## Signals (all splits)", "",
              "| signal | p05 | median | p95 | mean |", "|---|---:|---:|---:|---:|"]
    merged = _merge(splits)
    for signal in (s for s in _signals(splits) if s in merged):
        summary = merged[signal]
        lines.append(f"| {label(signal)} | {summary['p05']:.3g} | "
                     f"{summary['p50']:.3g} | {summary['p95']:.3g} | {summary['mean']:.3g} |")
    for signal in _signals(splits):
        hist = _histogram(splits, signal)
        if hist is None:
            continue
        edges, counts_ = hist
        most = max(counts_)
        lines += ["", f"### {label(signal)}", "", "```"]
        for lo, hi, n in zip(edges, edges[1:], counts_):
            if n:
                lines.append(f"{lo:>7.3g} .. {hi:<7.3g} {n:>7} {bar(n, most)}".rstrip())
        lines.append("```")
    return "\n".join(lines) + "\n"


def _signals(splits: Mapping[str, Any]) -> list[str]:
    """Every signal the splits have, in the order of ``BINS`` and then by name."""
    names = {name for s in splits.values() for name in s["signals"]}
    return [s for s in BINS if s in names] + sorted(names - set(BINS))


def _merge(splits: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per signal, the example-weighted mean of the splits' quantiles (an approximation that
    says so) and means; the exact per-split figures are in stats.json."""
    out: dict[str, dict[str, float]] = {}
    for s in splits.values():
        for signal, summary in s["signals"].items():
            if summary.get("count"):
                acc = out.setdefault(signal, {"n": 0, "p05": 0.0, "p50": 0.0, "p95": 0.0, "mean": 0.0})
                n = summary["count"]
                acc["n"] += n
                for k in ("p05", "p50", "p95", "mean"):
                    acc[k] += summary[k] * n
    return {sig: {k: v / acc["n"] for k, v in acc.items() if k != "n"} for sig, acc in out.items()}


def _histogram(splits: Mapping[str, Any], signal: str) -> tuple[list[float], list[int]] | None:
    edges, total = None, None
    for s in splits.values():
        h = s["signals"].get(signal, {}).get("histogram")
        if h is None:
            continue
        edges = h["edges"]
        total = h["counts"] if total is None else [a + b for a, b in zip(total, h["counts"])]
    return None if edges is None or not any(total or []) else (edges, total)  # type: ignore[return-value]
