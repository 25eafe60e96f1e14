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

demo: $(BIN)/.installed
	$(BIN)/curate demo --overwrite

test: $(BIN)/.installed
	-sh tests/validation/install_chromium.sh  # for the browser tests (they skip saying why without; fail in CI)
	-sh tests/curate/models/install_speech.sh  # real speech for the model tests (same)
	-sh tests/registry/build_lakefs.sh  # the real lakeFS server for the registry tests (same)
	-sh tests/engines/prism.sh $(BIN)/python  # Beam's Prism runner, from the Go module proxy (its tests fail in CI without it)
	-sh tests/engines/flink.sh $(BIN)/python  # Beam's Flink job server, from Maven Central (same)
	$(BIN)/python -m pytest tests

bench: $(BIN)/.installed
	$(BIN)/python -m bench
