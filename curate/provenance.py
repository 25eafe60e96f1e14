"""What a build's bytes depend on besides its sources and config: the installed libraries.

The same sources and config give the same bytes only with the same encoders and numerics:
every FLAC shard holds libFLAC's vendor string, soxr decides the resampled samples, numpy the
float arithmetic of the signals, pyarrow the Parquet bytes, array-record its shard format,
onnxruntime / ctranslate2 (and the models' files, recorded under ``models``) the model signals.
:func:`byte_dependencies` names each one's version as installed; ``dataset_info.json`` records
them, and ``curate reproduce`` compares them with what is installed when bytes differ.

>>> deps = byte_dependencies()
>>> sorted(k for k in ("numpy", "soxr", "libsndfile", "libFLAC") if k in deps)
['libFLAC', 'libsndfile', 'numpy', 'soxr']
>>> dependency_differences({"numpy": "1.0", "soxr": "1.1"}, {"numpy": "2.0", "soxr": "1.1"})
[('numpy', '1.0', '2.0')]
"""

from __future__ import annotations

import functools
import io
import platform
from collections.abc import Mapping
from importlib import metadata

__all__ = ["BYTE_DISTRIBUTIONS", "byte_dependencies", "dependency_differences", "flac_vendor"]

BYTE_DISTRIBUTIONS = (
    # Python distributions whose version can change a build's output bytes (when installed).
    "curate-speech",
    "numpy",
    "soundfile",
    "soxr",
    "pyarrow",
    "array-record",
    "google-crc32c",
    "apache-beam",
    "onnxruntime",
    "ctranslate2",
    "faster-whisper",
    "pocketsphinx",
    "lingua-language-detector",
    "silero-vad",
)


@functools.lru_cache(maxsize=1)
def flac_vendor() -> str:
    """The vendor string libFLAC writes into every FLAC file (``reference libFLAC 1.4.3
    20230623``): read back from a FLAC of a few samples encoded here."""
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16, dtype=np.int16), 16000, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    pos = 4
    while pos + 4 <= len(data):  # metadata blocks; VORBIS_COMMENT (type 4) starts with the vendor
        kind, length = data[pos] & 0x7F, int.from_bytes(data[pos + 1 : pos + 4], "big")
        if kind == 4:
            size = int.from_bytes(data[pos + 4 : pos + 8], "little")
            return data[pos + 8 : pos + 8 + size].decode("utf-8", "replace")
        if data[pos] & 0x80:
            break
        pos += 4 + length
    return "unknown"


def byte_dependencies() -> dict[str, str]:
    """Name -> version of every installed library that can change a build's bytes: the
    distributions of :data:`BYTE_DISTRIBUTIONS` that are installed, the native libraries
    their wheels bundle (libsndfile, libFLAC's vendor string, libsoxr) and Python itself."""
    deps = {"python": platform.python_version()}
    for name in BYTE_DISTRIBUTIONS:
        try:
            deps[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import soundfile
    import soxr

    deps["libsndfile"] = str(soundfile.__libsndfile_version__)
    deps["libFLAC"] = flac_vendor()
    deps["libsoxr"] = str(getattr(soxr, "__libsoxr_version__", "unknown"))
    return dict(sorted(deps.items()))


def dependency_differences(
    recorded: Mapping[str, str], installed: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """``(name, recorded, installed)`` for every library whose version differs (``"-"`` for
    one present on one side only), sorted by name."""
    names = sorted(set(recorded) | set(installed))
    return [
        (n, str(recorded.get(n, "-")), str(installed.get(n, "-")))
        for n in names
        if recorded.get(n) != installed.get(n)
    ]
