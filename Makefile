# The two quickstart commands: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench

$(BIN)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/curate demo --overwrite

test: $(BIN)/.installed
	-sh tests/validation/install_chromium.sh  # for the Data Docs test; it skips, saying why, without
	$(BIN)/python -m pytest tests

bench: $(BIN)/.installed
	$(BIN)/python -m bench
