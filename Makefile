# `make demo` (the quick start) and `make test` create .venv and install vmem into it on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo memory-demo test bench clean

$(INSTALLED): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) demo/quick_start.py

memory-demo: $(INSTALLED)
	$(PY) demo/memory_bank_demo.py

test: $(INSTALLED)
	$(PY) -m pytest -q tests

bench: $(INSTALLED)
	$(PY) tools/benchmark/retrieval.py

clean:
	rm -rf $(VENV) *.egg-info
