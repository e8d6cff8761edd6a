# salespipe: `make demo` and `make test` work on a fresh machine with only python3 (>= 3.11).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= notebooks,test

.PHONY: install demo test lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when pyproject.toml changes. uv is ~8x faster than pip; pip is the fallback.
$(VENV)/.installed: pyproject.toml | $(PY)
	( $(PY) -m pip install -q --disable-pip-version-check uv && \
	  $(VENV)/bin/uv pip install -q -p $(PY) -e '.[$(EXTRAS)]' ) || \
	  $(PY) -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

# Demo history (only into an empty database), the offline dashboard (reports/dashboard.html), the invariant checks.
demo: install
	$(PY) -m salespipe demo --leads 50000 --if-empty
	$(PY) -m salespipe report
	$(PY) -m salespipe doctor

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/engine_bench.py $(ARGS)

clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal .pytest_cache .ruff_cache
