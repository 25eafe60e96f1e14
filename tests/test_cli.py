"""The ``curate`` command line as a whole: --version, flags after the command, and mistyped
Beam options of ``curate build`` refused before anything runs."""

from __future__ import annotations

import os
from importlib import metadata

import pytest

from curate.beam_options import check_pipeline_args, unknown_pipeline_args
from curate.cli.main import _parser, main
from curate.errors import UsageError


def test_version_names_this_package_and_its_engines(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"curate-speech {metadata.version('curate-speech')} (apache-beam ")
    assert "great-expectations" in out and "Python 3." in out


@pytest.mark.parametrize(
    "argv, verbose, quiet",
    [
        (["versions", "x"], False, False),
        (["-v", "versions", "x"], True, False),
        (["versions", "x", "-v"], True, False),
        (["versions", "-v", "x", "--quiet"], True, True),
        (["-q", "hook", "serve", "--verbose"], True, True),  # a sub-sub-command too
        (["build", "c.yaml", "--output", "o", "-v", "--runner", "DirectRunner"], True, False),
    ],
)
def test_verbose_and_quiet_are_accepted_before_or_after_the_command(argv, verbose, quiet):
    args, _ = _parser().parse_known_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_a_mistyped_beam_option_is_a_one_line_error_and_builds_nothing(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("name: x\nsources: [{kind: jsonl, path: m.jsonl}]\n")
    (tmp_path / "m.jsonl").write_text("")
    out = tmp_path / "out"
    code = main(["build", str(tmp_path / "c.yaml"), "--output", str(out), "--runer",
                 "DataflowRunner"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "curate: error: unknown option --runer (did you mean --runner?): neither an option of "
        "curate build nor a Beam pipeline option"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--worker_machine_tpye", "n1-standard-4"], "--worker_machine_tpye (did you mean "
                                                     "--worker_machine_type?)"),
        (["--direct_num_workers=2", "--no_such_flag"], "unknown option --no_such_flag"),
        (["extra.yaml"], "unexpected argument 'extra.yaml'"),
        (["--runner", "NoSuchRunner"], "--runner NoSuchRunner: Unexpected pipeline runner"),
    ],
)
def test_unknown_pipeline_args_are_named(args, message):
    with pytest.raises(UsageError, match=None) as e:
        check_pipeline_args(args, command="curate build")
    assert message in str(e.value)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--worker_machine_typ", "n1"],  # Beam 2.62 takes a unique prefix as the option itself
        ["--runner", "DirectRunner", "--direct_num_workers=2",
         "--direct_running_mode", "multi_processing"],
        ["--runner", "DataflowRunner", "--project", "p", "--region", "r", "--temp_location",
         "gs://b/tmp", "--setup_file", "./setup.py", "--experiments=a", "--experiments", "b"],
        ["--runner", "FlinkRunner", "--flink_master", "localhost:8081", "--environment_type",
         "LOOPBACK"],
        ["--s3_endpoint_url", "http://127.0.0.1:9000", "--s3_access_key_id", "k"],
        ["--runner", "apache_beam.runners.render.RenderRunner", "--render_output", "p.svg"],
    ],
)
def test_every_option_beam_knows_passes(args):
    assert unknown_pipeline_args(args)[0] == []
    check_pipeline_args(args, command="curate build")


def test_worker_processes_inherit_the_filter_for_googles_support_notices(monkeypatch, tmp_path):
    """Beam's worker processes import Google's client libraries too (with the ``[gcp]`` extra);
    the command's filter must reach them through the environment, or every worker prints the
    same FutureWarnings. Stand-ins under the modules' names warn as the libraries do."""
    import subprocess
    import sys

    from curate.cli.main import _NOTICE_MODULES, silence_dependency_notices

    for name in _NOTICE_MODULES:
        path = tmp_path.joinpath(*name.split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in path.parents:  # google/ stays a namespace package, as installed
            if package == tmp_path / "google":
                break
            (package / "__init__.py").touch()
        path.with_suffix(".py").write_text(
            "import warnings\nwarnings.warn('support ends', FutureWarning)\n")
    probe = [sys.executable, "-c", "; ".join(f"import {m}" for m in _NOTICE_MODULES)]
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    noisy = subprocess.run(probe, capture_output=True, text=True, check=True)
    assert noisy.stderr.count("FutureWarning: support ends") == len(_NOTICE_MODULES)
    silence_dependency_notices()
    silence_dependency_notices()  # idempotent: the filters are not appended twice
    assert os.environ["PYTHONWARNINGS"].count("google.auth.transport.grpc") == 1
    quiet = subprocess.run(probe, capture_output=True, text=True, check=True)
    assert "FutureWarning" not in quiet.stderr, quiet.stderr
