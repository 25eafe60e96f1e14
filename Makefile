# The two quickstart commands: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench

# Every dependency at the version in requirements/constraints.txt (a build's bytes depend on
# libFLAC, soxr, numpy…); `python requirements/lock.py` writes that file again after setup.py
# changes.
CONSTRAINTS := requirements/constraints.txt

$(BIN)/.installed: setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[test,signals]'
	$(BIN)/pip install --quiet --no-deps -c $(CONSTRAINTS) 'silero-vad>=6.2,<7'
	touch $@

# The extras the tests need and `make demo` does without: TensorFlow (tf_dataset, and the tests
# that check our encoder and decoder against tf.train.Example), boto3 (the S3 tests) and the
# training-stack loaders' libraries. PyTorch from PyPI is a CUDA build, 2.8 GB to download with
# its nvidia-* wheels (it does not import without them), pyspark 456 MB, ray 79 MB; pip's cache
# keeps them for the next venv.
# [hf] goes in by hand: datasets needs multiprocess, whose wheels need dill >= 0.3.8, and Beam 2.62
# pins dill < 0.3.2, so pip backtracks to a multiprocess sdist that never builds. multiprocess
# 0.70.16 runs with Beam's dill (tests/registry/loaders/test_hf.py), so it and datasets go in
# without their declared dependencies, and datasets' others (its own bounds) before them.
# The loaders' libraries are not in the constraints file (torch alone would pin a CUDA stack), but
# the pin they would move stays: fsspec (datasets caps it; the file pins that version).
# (torch needs a newer setuptools than the venv's: installer tooling, not checked as a pin.)
$(BIN)/.installed-loaders: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[tf,aws,torch,grain,ray,spark]' filelock pandas \
		$(shell grep -E '^fsspec==' $(CONSTRAINTS)) \
		'requests>=2.32.2' 'tqdm>=4.66.3' xxhash 'fsspec[http]>=2023.1.0,<=2025.3.0' \
		'huggingface-hub>=0.24.0' packaging 'pyyaml>=5.1'
	$(BIN)/pip install --quiet --no-deps 'datasets>=3.0,<4.1' 'multiprocess>=0.70.16,<0.70.17'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/curate demo --overwrite

test: $(BIN)/.installed $(BIN)/.installed-loaders
	-sh tests/validation/install_chromium.sh  # for the browser tests (they skip saying why without; fail in CI)
	-sh tests/curate/models/install_speech.sh  # real speech for the model tests (same)
	-sh tests/registry/build_lakefs.sh  # the real lakeFS server for the registry tests (same)
	-sh tests/engines/prism.sh $(BIN)/python  # Beam's Prism runner, from the Go module proxy (its tests fail in CI without it)
	-sh tests/engines/flink.sh $(BIN)/python  # Beam's Flink job server, from Maven Central (same)
	# two test processes, a test file each at a time: most tests wait on Beam workers, servers and
	# subprocesses, so the second core is used (the whole suite: see docs/runners.md); files are
	# handed out in collection order, where tests/conftest.py puts the slowest files first (files
	# that share session fixtures go to one process: tests/scheduling.py); the 25 slowest tests
	# are listed at the end, so a CI log shows where the time went
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --no-loadscope-reorder --durations=25

bench: $(BIN)/.installed $(BIN)/.installed-loaders
	$(BIN)/python -m bench
