"""The quality signals of issue 14, each measured alone per CPU core, against its targets.

``python -m bench.signals [--quick] [--out PATH]`` prints a table and writes a JSON file.

* **Whisper** (tiny.en, int8, 1 thread, greedy; ``curate.models.whisper``): WER with the
  Whisper normaliser on the five real LibriVox clips of Debian's ``pocketsphinx-testdata``
  (corpus WER: errors over reference words), every shuffled pairing's WER, and audio seconds per
  CPU second on the bench corpus (the sample generator's 2-15 s utterances) and on the real
  clips, with fitted windows against Whisper's 30 s padding, and PocketSphinx side by side.
* **DNSMOS** (``curate.models.dnsmos``): audio s per CPU s on the bench corpus, against
  ``speechmos.dnsmos.run`` on the same clips; OVRL of each real clip clean and with white noise
  at 0 dB SNR; the largest difference from ``run()`` when both score the same windows.
* **Bandwidth** (``curate.bandwidth``): audio s per CPU s; the real clips clean, through 8 kHz
  and through a 32 kbit/s MP3.
* **Near-duplicates** (``curate.fingerprint``, ``curate.near_duplicates``): fingerprint speed;
  ``FindNearDuplicates`` on the DirectRunner over the real clips, each with its seven variants
  (MP3, Opus, mu-law, 8 kHz, 48 kHz, -6 dB, 300 ms trimmed), and the bench corpus's distinct
  utterances: variants caught, false matches, fingerprint comparisons against all pairs.
* The last table converts each throughput into CPU hours per 1 000 hours of audio.

CPU seconds are this process's (``time.process_time``; every model runs on one thread), so
other jobs on the machine move them much less than wall time; ``background_cores`` says how busy
the machine was.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["run"]

_TARGETS = {
    "whisper_wer": 0.10,
    "whisper_audio_s_per_cpu_s": 10.0,
    "dnsmos_audio_s_per_cpu_s": 20.0,
    "dnsmos_ovrl_gap": 1.0,
}
_MAX_WER = 0.3  # a Whisper agreement threshold


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _bench_corpus(utterances: int) -> list[tuple[str, Any]]:
    """``[(key, ModelInput)]`` of the bench corpus's first ``utterances`` rows, at 16 kHz."""
    import soundfile as sf

    from bench.corpus import ensure_corpus
    from curate.models.records import ModelInput

    corpus, _ = ensure_corpus(1000)
    out = []
    with open(os.path.join(corpus.root, "manifest.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:utterances]
    for row in rows:
        audio, rate = sf.read(os.path.join(corpus.root, row["audio_filepath"]), dtype="float32")
        key = os.path.splitext(os.path.basename(row["audio_filepath"]))[0]
        out.append((key, ModelInput.from_audio(audio, sample_rate_hz=rate, transcript=row["text"])))
    return out


def _spoken(corpus: list[tuple[str, Any]]) -> list[Any]:
    """The corpus's transcripts read by espeak-ng (its audio is speech-like but not speech)."""
    from tests.curate.models import speech

    return [speech.espeak(x.transcript.lower(), "en-us") for _, x in corpus]


def _seconds(inputs: Sequence[Any]) -> float:
    return float(sum(x.duration_s for x in inputs))


def _whisper(real: dict[str, Any], corpus: list[Any], spoken: list[Any],
             padded_n: int) -> dict[str, Any]:
    from curate.models.asr import PocketSphinxRecognizer
    from curate.models.config import TextNorm
    from curate.models.wer import score
    from curate.models.whisper import WhisperRecognizer

    keys = sorted(real)
    out: dict[str, Any] = {}
    for window in ("fitted", "padded"):
        rec, load_cpu, _ = _cpu(lambda: WhisperRecognizer(window=window))
        hyps, cpu, _ = _cpu(lambda: rec.transcribe_batch([real[k].samples for k in keys]))
        scores = [score(real[k].transcript, h, TextNorm.WHISPER) for k, h in zip(keys, hyps)]
        shuffled = [score(real[o].transcript, hyps[i], TextNorm.WHISPER).wer
                    for i, k in enumerate(keys) for o in keys if o != k]
        part = corpus if window == "fitted" else corpus[:padded_n]
        _, corpus_cpu, corpus_wall = _cpu(lambda: rec.transcribe_batch([x.samples for x in part]))
        said = spoken if window == "fitted" else spoken[:padded_n]
        spoken_hyps, spoken_cpu, _ = _cpu(lambda: rec.transcribe_batch([x.samples for x in said]))
        spoken_scores = [score(x.transcript, h, TextNorm.WHISPER) for x, h in zip(said, spoken_hyps)]
        one_by_one, single_cpu, _ = _cpu(lambda: [rec.transcribe(real[k].samples) for k in keys])
        out[window] = {
            "model_id": rec.model_id,
            "load_cpu_s": load_cpu,
            "librivox_wer": sum(s.word_errors for s in scores) / sum(s.ref_words for s in scores),
            "librivox_wer_each": [round(s.wer, 3) for s in scores],
            "hypotheses": dict(zip(keys, hyps)),
            "shuffled_min_wer": min(shuffled),
            "shuffled_rejected": sum(w > _MAX_WER for w in shuffled),
            "shuffled_pairs": len(shuffled),
            "librivox_audio_s_per_cpu_s": _seconds(real.values()) / cpu,
            "librivox_one_by_one_audio_s_per_cpu_s": _seconds(real.values()) / single_cpu,
            "batch_equals_one_by_one": one_by_one == hyps,
            "corpus_utterances": len(part),
            "corpus_audio_s": _seconds(part),
            "corpus_audio_s_per_cpu_s": _seconds(part) / corpus_cpu,
            "corpus_audio_s_per_wall_s": _seconds(part) / corpus_wall,
            "spoken_utterances": len(said),
            "spoken_audio_s": _seconds(said),
            "spoken_audio_s_per_cpu_s": _seconds(said) / spoken_cpu,
            "spoken_wer": sum(s.word_errors for s in spoken_scores)
            / max(1, sum(s.ref_words for s in spoken_scores)),
        }
    ps = PocketSphinxRecognizer()
    part = corpus[:padded_n]
    _, cpu, _ = _cpu(lambda: [ps.transcribe(x.samples) for x in part])
    _, spoken_cpu, _ = _cpu(lambda: [ps.transcribe(x.samples) for x in spoken[:padded_n]])
    hyps, real_cpu, _ = _cpu(lambda: [ps.transcribe(real[k].samples) for k in keys])
    scores = [score(real[k].transcript, h, TextNorm.WHISPER) for k, h in zip(keys, hyps)]
    out["pocketsphinx"] = {
        "librivox_wer": sum(s.word_errors for s in scores) / sum(s.ref_words for s in scores),
        "corpus_audio_s_per_cpu_s": _seconds(part) / cpu,
        "librivox_audio_s_per_cpu_s": _seconds(real.values()) / real_cpu,
        "spoken_audio_s_per_cpu_s": _seconds(spoken[:padded_n]) / spoken_cpu,
    }
    return out


def _dnsmos(real: dict[str, Any], corpus: list[Any], reference_n: int) -> dict[str, Any]:
    from curate.models.dnsmos import Dnsmos
    from tests.curate.models.test_dnsmos import _reference_windows
    from tests.curate.models.variants import add_noise

    model, load_cpu, _ = _cpu(Dnsmos.load)
    results, cpu, wall = _cpu(lambda: [model.score(x.samples) for x in corpus])
    out: dict[str, Any] = {
        "model_id": model.model_id,
        "load_cpu_s": load_cpu,
        "corpus_utterances": len(corpus),
        "corpus_audio_s": _seconds(corpus),
        "corpus_audio_s_per_cpu_s": _seconds(corpus) / cpu,
        "corpus_audio_s_per_wall_s": _seconds(corpus) / wall,
        "windows_per_utterance": sum(r.windows for r in results) / len(results),
        "real": {},
    }
    try:
        from speechmos import dnsmos as reference
    except ImportError as e:  # librosa missing: the comparison is left out, and says so
        out["reference"] = {"error": f"speechmos.dnsmos.run needs librosa: {e}"}
    else:
        part = corpus[:reference_n]
        reference.run(part[0].samples, 16000)  # its sessions, made on first use
        refs, ref_cpu, _ = _cpu(lambda: [reference.run(x.samples, 16000) for x in part])
        ours, our_cpu, _ = _cpu(lambda: [model.score(x.samples) for x in part])
        same = [model.score_windows(_reference_windows(x.samples)) for x in real.values()]
        runs = [reference.run(x.samples, 16000) for x in real.values()]
        out["reference"] = {
            "utterances": len(part),
            "run_audio_s_per_cpu_s": _seconds(part) / ref_cpu,
            "ours_audio_s_per_cpu_s": _seconds(part) / our_cpu,
            "speedup": ref_cpu / our_cpu,
            "ovrl_mean_abs_diff_our_windows": float(np.mean([abs(o.ovrl - r["ovrl_mos"])
                                                             for o, r in zip(ours, refs)])),
            "max_abs_diff_same_windows": float(max(
                abs(getattr(s, a) - float(r[b])) for s, r in zip(same, runs)
                for a, b in (("sig", "sig_mos"), ("bak", "bak_mos"), ("ovrl", "ovrl_mos"),
                             ("p808", "p808_mos")))),
        }
    for key, x in sorted(real.items()):
        clean, noisy = model.score(x.samples), model.score(add_noise(x.samples, 0.0))
        out["real"][key] = {"clean": [clean.sig, clean.bak, clean.ovrl, clean.p808],
                            "noise_0db": [noisy.sig, noisy.bak, noisy.ovrl, noisy.p808],
                            "ovrl_gap": clean.ovrl - noisy.ovrl}
    out["min_ovrl_gap"] = min(r["ovrl_gap"] for r in out["real"].values())
    return out


def _bandwidth(real: dict[str, Any], corpus: list[Any]) -> dict[str, Any]:
    from curate.bandwidth import effective_bandwidth_hz
    from tests.curate.models.variants import encode_decode, narrowband

    values, cpu, _ = _cpu(lambda: [effective_bandwidth_hz(x.samples, 16000) for x in corpus])
    real_hz = {}
    for key, x in sorted(real.items()):
        mp3 = encode_decode(x.samples, 16000, "MP3", "MPEG_LAYER_III", compression_level=0.99,
                            bitrate_mode="CONSTANT")
        real_hz[key] = {"clean": effective_bandwidth_hz(x.samples, 16000),
                        "8khz": effective_bandwidth_hz(narrowband(x.samples), 16000),
                        "mp3_32k": effective_bandwidth_hz(mp3, 16000)}
    return {"corpus_audio_s_per_cpu_s": _seconds(corpus) / cpu, "real_hz": real_hz,
            "corpus_hz_min": float(min(values)), "corpus_hz_median": float(np.median(values))}


def _near_duplicates(real: dict[str, Any], corpus: list[Any]) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.fingerprint import fingerprint
    from curate.near_duplicates import FindNearDuplicates
    from tests.curate.models.variants import variants

    prints, cpu, _ = _cpu(lambda: [(f"s-{k}", fingerprint(x.samples)) for k, x in corpus])
    speed = _seconds([x for _, x in corpus]) / cpu
    elements = list(prints)
    expected = {}
    for key, x in sorted(real.items()):
        short = key.rsplit("-", 1)[1]
        elements.append((f"lv-{short}", fingerprint(x.samples)))
        for name, y in variants(x.samples).items():
            elements.append((f"lv-{short}~{name}", fingerprint(y)))
            expected[f"lv-{short}~{name}"] = f"lv-{short}"
    out_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-neardup-{os.getpid()}")
    options = PipelineOptions(runner="DirectRunner")
    p = beam.Pipeline(options=options)
    found = p | beam.Create(elements) | FindNearDuplicates()
    _ = (found | beam.Map(lambda d: json.dumps([d.key, d.kept_key, d.similarity]))
         | beam.io.WriteToText(out_dir + "/found", shard_name_template=""))
    result = p.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    with open(out_dir + "/found", encoding="utf-8") as f:
        found_rows = [json.loads(line) for line in f]
    got = {k: kept for k, kept, _ in found_rows}
    n = len(elements)
    return {
        "fingerprint_audio_s_per_cpu_s": speed,
        "inputs": n,
        "variants": len(expected),
        "variants_caught": sum(got.get(k) == v for k, v in expected.items()),
        "false_matches": sum(1 for k in got if k not in expected),
        "min_variant_similarity": min((s for k, _, s in found_rows if k in expected), default=0),
        "all_pairs": n * (n - 1) // 2,
        "comparisons": counters.get("candidates", 0),
        "bucket_pairs": counters.get("bucket_pairs", 0),
        "skipped_buckets": counters.get("skipped_buckets", 0),
        "matches": counters.get("matches", 0),
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure everything (see the module docstring)."""
    from tests.curate.models import speech

    if not speech.has_librivox():
        raise RuntimeError("no real speech: install pocketsphinx-testdata "
                           "(tests/curate/models/install_speech.sh)")
    real = speech.librivox()
    n, padded_n, reference_n = (40, 10, 5) if quick else (150, 30, 20)
    corpus = _bench_corpus(1000 if not quick else 200)
    inputs = [x for _, x in corpus[:n]]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    results: dict[str, Any] = {"mode": "quick" if quick else "full",
                               "corpus": {"utterances": n, "audio_s": _seconds(inputs)}}
    spoken = _spoken(corpus[:n])
    results["corpus"]["spoken_audio_s"] = _seconds(spoken)
    results["whisper"] = _whisper(real, inputs, spoken, padded_n)
    results["dnsmos"] = _dnsmos(real, inputs, reference_n)
    results["bandwidth"] = _bandwidth(real, inputs)
    results["near_duplicates"] = _near_duplicates(real, corpus)
    wall = time.perf_counter() - started
    results["background_cores"] = round(max(0.0, max(load_before, os.getloadavg()[0])
                                            - time.process_time() / wall), 2)
    return results


def _hours(per_cpu_s: float) -> str:
    return f"{1000.0 / per_cpu_s:.1f}"


def table(r: dict[str, Any]) -> str:
    w, d, b, nd = r["whisper"], r["dnsmos"], r["bandwidth"], r["near_duplicates"]
    f, pad, ps = w["fitted"], w["padded"], w["pocketsphinx"]
    ref = d.get("reference", {})
    yes = {True: "yes", False: "**no**"}
    rows = [
        "| signal | measured | target | met |",
        "|---|---|---|---|",
        f"| Whisper WER, 5 real LibriVox clips (Whisper normaliser), fitted windows | "
        f"{f['librivox_wer']:.3f} (30 s windows: {pad['librivox_wer']:.3f}; PocketSphinx "
        f"{ps['librivox_wer']:.3f}) | <= 0.10 | {yes[f['librivox_wer'] <= 0.10]} |",
        f"| Whisper: shuffled pairings rejected (WER > {_MAX_WER}) | {f['shuffled_rejected']} of "
        f"{f['shuffled_pairs']} (lowest WER {f['shuffled_min_wer']:.2f}) | all | "
        f"{yes[f['shuffled_rejected'] == f['shuffled_pairs']]} |",
        f"| Whisper audio s per CPU s, bench corpus (2-15 s of the generator's speech-like, "
        f"not speech, audio: Whisper loops on it), fitted windows | "
        f"{f['corpus_audio_s_per_cpu_s']:.1f} (30 s windows {pad['corpus_audio_s_per_cpu_s']:.1f}; "
        f"PocketSphinx {ps['corpus_audio_s_per_cpu_s']:.1f}) | >= 10 | "
        f"{yes[f['corpus_audio_s_per_cpu_s'] >= 10]} |",
        f"| Whisper audio s per CPU s, the bench corpus's transcripts read by espeak-ng "
        f"({f['spoken_audio_s'] / f['spoken_utterances']:.1f} s on average), fitted windows | "
        f"{f['spoken_audio_s_per_cpu_s']:.1f} (WER {f['spoken_wer']:.3f}; 30 s windows "
        f"{pad['spoken_audio_s_per_cpu_s']:.1f}, WER {pad['spoken_wer']:.3f}; PocketSphinx "
        f"{ps['spoken_audio_s_per_cpu_s']:.1f}) | >= 10 | "
        f"{yes[f['spoken_audio_s_per_cpu_s'] >= 10]} |",
        f"| Whisper audio s per CPU s, real clips (3-7 s) | {f['librivox_audio_s_per_cpu_s']:.1f} "
        f"(one at a time {f['librivox_one_by_one_audio_s_per_cpu_s']:.1f}; 30 s windows "
        f"{pad['librivox_audio_s_per_cpu_s']:.1f}); batch == one by one: "
        f"{f['batch_equals_one_by_one']} | | |",
        f"| DNSMOS audio s per CPU s, bench corpus | {d['corpus_audio_s_per_cpu_s']:.1f} "
        f"({d['windows_per_utterance']:.2f} windows per utterance) | >= 20 | "
        f"{yes[d['corpus_audio_s_per_cpu_s'] >= 20]} |",
    ]
    if "speedup" in ref:
        rows.append(f"| DNSMOS vs speechmos.run, {ref['utterances']} corpus clips | "
                    f"{ref['ours_audio_s_per_cpu_s']:.1f} vs {ref['run_audio_s_per_cpu_s']:.1f} "
                    f"audio s per CPU s (x{ref['speedup']:.1f}); same windows: largest score "
                    f"difference {ref['max_abs_diff_same_windows']:.4f}; OVRL mean |diff| with "
                    f"our windows {ref['ovrl_mean_abs_diff_our_windows']:.3f} | | |")
    gaps = ", ".join(f"{v['ovrl_gap']:.2f}" for v in d["real"].values())
    rows += [
        f"| DNSMOS OVRL(clean) - OVRL(0 dB white noise), real clips | {gaps} | >= 1.0 | "
        f"{yes[d['min_ovrl_gap'] >= 1.0]} |",
        "| Bandwidth, real clips clean / 8 kHz / 32 kbit/s MP3 | " + "; ".join(
            f"{v['clean']:.0f} / {v['8khz']:.0f} / {v['mp3_32k']:.0f} Hz"
            for v in b["real_hz"].values()) + f" (corpus median {b['corpus_hz_median']:.0f}) | | |",
        f"| Near-duplicates: variants of the real clips caught | {nd['variants_caught']} of "
        f"{nd['variants']} (lowest similarity {nd['min_variant_similarity']:.3f}) | all | "
        f"{yes[nd['variants_caught'] == nd['variants']]} |",
        f"| Near-duplicates: false matches among {nd['inputs'] - 40} distinct corpus utterances "
        f"| {nd['false_matches']} | 0 | {yes[nd['false_matches'] == 0]} |",
        f"| Near-duplicates: fingerprint comparisons vs all pairs | {nd['comparisons']} vs "
        f"{nd['all_pairs']} ({nd['bucket_pairs']} LSH bucket votes, {nd['skipped_buckets']} "
        f"buckets skipped) | never all pairs | {yes[nd['comparisons'] < nd['all_pairs']]} |",
        "",
        "| signal | audio s per CPU s | CPU hours per 1 000 h of audio |",
        "|---|---|---|",
        f"| Whisper tiny.en, fitted windows, generator audio | {f['corpus_audio_s_per_cpu_s']:.1f} | "
        f"{_hours(f['corpus_audio_s_per_cpu_s'])} |",
        f"| Whisper tiny.en, fitted windows, speech (espeak-ng readings) | "
        f"{f['spoken_audio_s_per_cpu_s']:.1f} | {_hours(f['spoken_audio_s_per_cpu_s'])} |",
        f"| Whisper tiny.en, 30 s windows | {pad['corpus_audio_s_per_cpu_s']:.1f} | "
        f"{_hours(pad['corpus_audio_s_per_cpu_s'])} |",
        f"| PocketSphinx en-US | {ps['corpus_audio_s_per_cpu_s']:.1f} | "
        f"{_hours(ps['corpus_audio_s_per_cpu_s'])} |",
        f"| DNSMOS P.835 + P.808 | {d['corpus_audio_s_per_cpu_s']:.1f} | "
        f"{_hours(d['corpus_audio_s_per_cpu_s'])} |",
        f"| effective bandwidth | {b['corpus_audio_s_per_cpu_s']:.0f} | "
        f"{_hours(b['corpus_audio_s_per_cpu_s'])} |",
        f"| acoustic fingerprint | {nd['fingerprint_audio_s_per_cpu_s']:.0f} | "
        f"{_hours(nd['fingerprint_audio_s_per_cpu_s'])} |",
    ]
    c = r["corpus"]
    return (f"bench corpus: {c['utterances']} utterances, {c['audio_s']:.0f} s of audio; others' "
            f"load {r['background_cores']} cores\n\n" + "\n".join(rows))


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import measure_main

    return measure_main(argv, prog="python -m bench.signals", doc=__doc__, quick_help="a few utterances (a smoke run)",
                        default_out="signals_results.json", run=run, table=table)


if __name__ == "__main__":
    sys.exit(main())
