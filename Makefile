# The two quickstart commands: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench

$(BIN)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,signals]'
	$(BIN)/pip install --quiet --no-deps 'silero-vad>=6.2,<7'
	touch $@

# The training-stack loaders' libraries, for their tests only (`make demo` does without):
# PyTorch from PyPI is a CUDA build, 2.8 GB to download with its nvidia-* wheels (it does not
# import without them), pyspark 456 MB, ray 79 MB; pip's cache keeps them for the next venv.
$(BIN)/.installed-loaders: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[torch,grain,hf,ray,spark]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/curate demo --overwrite

test: $(BIN)/.installed $(BIN)/.installed-loaders
	-sh tests/validation/install_chromium.sh  # for the Data Docs test; it skips, saying why, without
	-sh tests/curate/models/install_speech.sh  # real speech for the model tests (same)
	-sh tests/registry/build_lakefs.sh  # the real lakeFS server for the registry tests (same)
	$(BIN)/python -m pytest tests

bench: $(BIN)/.installed $(BIN)/.installed-loaders
	$(BIN)/python -m bench
