"""Loaders that hand one split of a pinned version to training code, without TensorFlow.

Each module serves one stack and imports it only when used: :mod:`.torch_data` (PyTorch),
:mod:`.grain_data` (Grain / JAX), :mod:`.hf_data` (Hugging Face datasets), :mod:`.ray_data`
(Ray Data) and :mod:`.spark_data` (PySpark). All of them read the files named by a
:class:`registry.loaders.split.SplitFiles`, which pins every file to the sha256 the version
recorded, and decode with :mod:`curate.example_decode`.
"""

__all__: list[str] = []
