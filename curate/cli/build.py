"""``curate samples``, ``curate build``, ``curate compact`` and ``curate demo``."""

from __future__ import annotations

import argparse
import os

__all__ = ["add_commands", "open_base"]


def _samples(args: argparse.Namespace) -> int:
    from curate.samples import make_corpus

    summary = make_corpus(
        args.dir, utterances=args.utterances, seed=args.seed, with_bad_inputs=args.with_bad_inputs
    )
    print(f"wrote {summary.num_good} good and {summary.num_bad} bad utterances "
          f"({summary.total_duration_s / 60:.1f} min of audio, {summary.num_speakers} speakers) "
          f"to {args.dir}")
    print(f"build configs: {os.path.join(args.dir, 'configs')}/{{librispeech,jsonl,tsv,kaldi}}.yaml")
    return 0


def open_base(ref: str | None, registry_uri: str | None):
    """The registered version a build starts from (``--base NAME@vN``), or None: NotFoundError
    (exit 2) for one that does not exist, StoreUnavailableError (exit 3) when the registry
    cannot be reached. Nothing is written."""
    if ref is None:
        return None
    from registry.api import Registry

    base = Registry(registry_uri).open(ref)
    _ = base.info  # fetched now: a missing or unreachable base fails before the build starts
    return base


def _build(args: argparse.Namespace) -> int:
    from curate.beam_options import check_pipeline_args
    from curate.launch import print_summary, run_build

    check_pipeline_args(args.extra, command="curate build")  # Beam would ignore a typo
    info = run_build(args.config, args.output, workers=args.workers, pipeline_args=args.extra,
                     overwrite=args.overwrite, quiet=args.quiet,
                     base=open_base(args.base, args.registry))
    print_summary(info, args.output)
    return 0


def _compact(args: argparse.Namespace) -> int:
    from curate.compact import compact

    info = compact(open_base(args.ref, args.registry), args.output,
                   target_size_mb=args.target_size_mb, overwrite=args.overwrite)
    if info is None:
        return 0  # said why; nothing written
    record = info["compaction"]
    kept = sum(1 for p, f in info["files"].items() if p.startswith("data/") and f.get("base"))
    written = sum(len(r["into"]) for r in record["runs"]) * len(info["config"]["shards"]
                                                                ["formats"])
    print(f"compacted {info['base']['ref']} into {args.output}: "
          f"{sum(len(r['shards']) for r in record['runs'])} small shards rewritten as "
          f"{sum(len(r['into']) for r in record['runs'])}, {kept} shard files kept byte for "
          f"byte, {written} written; {info['counts']['accepted']} examples, none changed")
    print(f"fingerprint  {info['fingerprint']}")
    print(f"register it: curate register {args.output} --dataset {info['name']}")
    return 0


def _show_open(registry, uri: str, ref: str) -> None:
    """Open a registered version the way training code would, and show one batch (read and
    decoded by the core install: no TensorFlow, no training stack)."""
    import itertools

    from registry.loaders.records import pad_batch

    ds = registry.open(ref)
    split = max(ds.splits, key=lambda s: ds.info["splits"][s]["num_examples"])
    batch = pad_batch(list(itertools.islice(ds.examples(split), 4)))
    print(f"opened {ref} at commit {ds.commit_id[:12]}: a batch of {split} has audio "
          f"{tuple(batch['audio'].shape)} and texts like {batch['text'][0][:40]!r}")
    print(f"""in training code:
    from registry.api import Registry
    ds = Registry("{uri}").open("{ref}")
    train = ds.torch_dataset("train")     # [torch]; or grain_source, to_hf_dataset, ray_dataset,
                                          # spark_dataframe, tf_dataset ([tf]): see the README
    print(ds.commit_id)                   # log this: it names the exact bytes you trained on""")


def _demo(args: argparse.Namespace) -> int:
    """Sample corpus -> build -> validate (the gate) -> register -> open, in one directory."""
    import shutil

    from curate.errors import UsageError
    from curate.cli.gate import print_report
    from curate.launch import print_summary, run_build, write_build_report
    from curate.samples import make_corpus
    from curate.validation.validate import validate_build
    from registry.api import Registry
    from registry.gate import RegistryBaselines

    root = os.path.abspath(args.dir)
    corpus, build = os.path.join(root, "corpus"), os.path.join(root, "build")
    if os.path.exists(root) and os.listdir(root) and not args.overwrite:
        raise UsageError(f"{root}: exists and is not empty (use --overwrite to start over)")
    if os.path.exists(root):
        shutil.rmtree(root)
    print(f"[1/5] writing a sample corpus of {args.utterances} utterances (+ known bad inputs)")
    make_corpus(corpus, utterances=args.utterances, seed=args.seed, with_bad_inputs=True)
    print(f"[2/5] building it with {args.workers} worker(s)")
    info = run_build(os.path.join(corpus, "configs", "librispeech.yaml"), build,
                     workers=args.workers, quiet=args.quiet)
    print_summary(info, build)
    uri = f"file://{os.path.join(root, 'registry')}"
    print("\n[3/5] validating it against the asr_default suite (the gate)")
    result = validate_build(build, suite="asr_default",
                            baseline=RegistryBaselines(uri).latest(info["name"]))
    print_report(result, build_dir=build)
    report = write_build_report(build, say=print)  # again: now with the verdict and Data Docs
    if not result.success:
        print("the gate refused this build: it is not registered")
        print(f"\nthe build's report, to look at and listen to: {report}")
        return 1
    registry = Registry(uri)
    print(f"\n[4/5] registering it in the embedded registry {uri}")
    version = registry.register(build, dataset=info["name"], message="curate demo")
    again = registry.register(build, dataset=info["name"], message="curate demo, again")
    print(f"registered {version.ref} -> commit {version.commit_id[:12]} "
          f"({version.examples} examples, {version.hours:.3f} h); registering the same build "
          f"again gives {again.ref}, nothing new stored")
    _show_open(registry, uri, version.ref)
    code = _demo_v2(args, root, corpus, registry, version)
    print(f"\nthe build's report, to look at and listen to: {report}")
    return code


def _demo_v2(args: argparse.Namespace, root: str, corpus: str, registry, v1) -> int:
    """A few new utterances as a second source, built on v1, validated, registered as v2."""
    import yaml

    from curate.cli.gate import print_report
    from curate.launch import print_summary, run_build
    from curate.samples import make_corpus
    from curate.validation.validate import validate_build
    from registry.gate import RegistryBaselines

    new = max(1, args.utterances // 25)
    extra, build = os.path.join(root, "corpus-new"), os.path.join(root, "build-v2")
    print(f"\n[5/5] adding {new} new utterances as a second source, building on {v1.ref}")
    make_corpus(extra, utterances=new, seed=args.seed + 1)
    with open(os.path.join(corpus, "configs", "librispeech.yaml")) as f:
        config = yaml.safe_load(f)
    config["sources"].append({"kind": "librispeech", "path": os.path.join(extra, "librispeech")})
    config_v2 = os.path.join(corpus, "configs", "librispeech-v2.yaml")
    with open(config_v2, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    info = run_build(config_v2, build, workers=args.workers, base=registry.open(v1.ref),
                     quiet=args.quiet)
    print_summary(info, build)
    result = validate_build(build, suite="asr_default",
                            baseline=RegistryBaselines(registry.uri).latest(info["name"]))
    if not result.success:
        print_report(result, build_dir=build)
        print("the gate refused v2: it is not registered")
        return 1
    v2 = registry.register(build, dataset=info["name"], message="curate demo: new utterances")
    print(f"registered {v2.ref} -> commit {v2.commit_id[:12]} ({v2.examples} examples): "
          f"{v2.bytes_new / 1e6:.1f} MB new, {v2.bytes_reused / 1e6:.1f} MB reused from {v1.ref}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("samples", help="write a deterministic sample corpus in four layouts")
    p.add_argument("dir")
    p.add_argument("--utterances", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--with-bad-inputs", action="store_true")
    p.set_defaults(func=_samples)

    p = sub.add_parser(
        "build", help="build a dataset from a YAML config (extra flags go to Beam)",
        description="Build a dataset. Flags not listed here are Beam pipeline options, "
        "e.g. --runner DataflowRunner --project P --region R --temp_location gs://… "
        "--setup_file ./setup.py.",
    )
    p.add_argument("config")
    p.add_argument("--output", required=True)
    p.add_argument("--workers", type=int, default=None,
                   help="DirectRunner worker processes (direct_num_workers, multi_processing)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--base", metavar="NAME@vN", default=None,
                   help="build on this registered version: inputs that match it are carried "
                   "over without decoding, its unchanged shards are kept byte for byte")
    p.add_argument("--registry", metavar="URI", default=None,
                   help="where --base is registered (default $CURATE_REGISTRY, else the local "
                   "registry)")
    p.set_defaults(func=_build, accepts_extra=True)

    p = sub.add_parser(
        "compact", help="rewrite a version's runs of small appended shards into target-size "
        "shards (no example changes)",
        description="Compact a registered version into a build directory: each run of adjacent "
        "shards under half the target size is rewritten into target-size shards; every other "
        "shard is kept byte for byte. Register the output as the next version.")
    p.add_argument("ref", metavar="NAME@vN")
    p.add_argument("--output", required=True)
    p.add_argument("--registry", metavar="URI", default=None,
                   help="where NAME@vN is registered (default $CURATE_REGISTRY, else the local "
                   "registry)")
    p.add_argument("--target-size-mb", type=float, default=None, metavar="M",
                   help="the shard size to compact to (default: the version's "
                   "shards.target_size_mb)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_compact)

    p = sub.add_parser("demo", help="sample corpus -> build -> validate -> register -> open")
    p.add_argument("--dir", default="demo")
    p.add_argument("--utterances", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_demo)
