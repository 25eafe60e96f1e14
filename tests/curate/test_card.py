"""``CARD.md``: Hugging Face-style front matter, the tables, bars that show one utterance, and
a histogram for every signal the build has."""

from __future__ import annotations

import yaml

from curate.card import REPORT_LINK, bar, render_card, size_category
from curate.stats import summarize_split


def _stats(durations: list[float], **extra: list[float]) -> dict:
    n = len(durations)
    columns = {"key": [f"k{i}" for i in range(n)], "speaker": ["s"] * n,
               "duration_s": durations, "snr_db": [20.0] * n, **extra}
    return {"splits": {"train": summarize_split(columns)}}


def _card(stats: dict, **kwargs) -> str:
    accepted = stats["splits"]["train"]["num_examples"]
    return render_card(
        name="my-corpus", counts={"read": accepted + 2, "accepted": accepted, "rejected": 2},
        rejected_by_reason={"clipped": 2}, stats=stats,
        audio={"sample_rate_hz": 16000, "channels": 1, "codec": "flac"}, models=None, **kwargs,
    )


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    block, rest = card[4:].split("\n---\n", 1)
    assert rest.startswith("\n# my-corpus\n")
    return yaml.safe_load(block)


def test_front_matter_reads_as_a_hugging_face_dataset_card():
    card = _card(_stats([2.0] * 1500), license="cc-by-4.0", languages=["en"])
    assert _front_matter(card) == {
        "pretty_name": "my-corpus", "license": "cc-by-4.0", "language": ["en"],
        "task_categories": ["automatic-speech-recognition"], "size_categories": ["1K<n<10K"],
        "tags": ["curate-speech"],
    }
    unknown = _front_matter(_card(_stats([2.0] * 3)))
    assert unknown["license"] == "unknown" and "language" not in unknown
    assert size_category(999) == "n<1K" and size_category(1000) == "1K<n<10K"


def test_a_bin_with_one_utterance_shows_a_bar():
    card = _card(_stats([2.2] * 999 + [20.5]))
    lines = [line.split() for line in card.splitlines() if line.split()[:1] in (["2"], ["20"])]
    assert lines[0] == ["2", "..", "2.5", "999", "█" * 24]
    assert lines[1] == ["20", "..", "21", "1", "▏"]
    assert bar(0, 10) == "" and bar(1, 10**9) == "▏" and bar(3, 8) == "█████████"


def test_the_card_keeps_its_tables_links_the_report_and_plots_every_signal():
    card = _card(_stats([1.0, 2.0, 3.0], vad_speech_ratio=[0.5, 0.9, 0.95]))
    assert f"[{REPORT_LINK}]({REPORT_LINK})" in card
    assert "| train | 3 | 1 | 0.002 |" in card and "| `clipped` | 2 |" in card
    for heading in ("### duration (s)", "### SNR, WADA (dB)", "### speech (share, Silero VAD)"):
        assert heading in card
    assert "| speech (share, Silero VAD) | " in card
