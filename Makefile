# salespipe: `make demo` and `make test` work on a fresh machine with only python3 (>= 3.11).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= notebooks,test

.PHONY: install demo test lint format bench clean dashboards

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when pyproject.toml changes. uv is ~8x faster than pip; pip is the fallback.
$(VENV)/.installed: pyproject.toml | $(PY)
	( $(PY) -m pip install -q --disable-pip-version-check uv && \
	  $(VENV)/bin/uv pip install -q -p $(PY) -e '.[$(EXTRAS)]' ) || \
	  $(PY) -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

# Demo history (only into an empty database), the dashboards' fact tables brought up to date (salespipe.facts),
# the offline dashboard (reports/dashboard.html), the invariant checks.
demo: install
	$(PY) -m salespipe demo --leads 50000 --if-empty
	$(PY) -m salespipe.facts
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

# The manager dashboards (notebooks/03 and 04) with voila: no code shown, fully offline (the
# `offline` template in share/jupyter, voila.json), idle kernels culled after 10 minutes.
# make dashboards [HOST=0.0.0.0] [PORT=8866] [PREHEAT=0] [SALESPIPE_DB=path]
HOST    ?= 127.0.0.1
PORT    ?= 8866
PREHEAT ?= 1
PREHEAT_ARGS := --preheat_kernel=True --pool_size=1

dashboards: install
	@echo "funnel:   http://$(HOST):$(PORT)/voila/render/03_funnel_dashboard.ipynb"
	@echo "win rate: http://$(HOST):$(PORT)/voila/render/04_win_rate_dashboard.ipynb"
	JUPYTER_PATH=$(CURDIR)/share/jupyter PLOOMBER_STATS_ENABLED=false $(VENV)/bin/voila notebooks \
	  --no-browser --Voila.ip=$(HOST) --port=$(PORT) $(if $(filter 1,$(PREHEAT)),$(PREHEAT_ARGS))
