# salespipe: `make demo` and `make test` work on a fresh machine with only python3 (>= 3.11).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= notebooks,test

.PHONY: install demo test lint format bench lab dashboards notebook-references clean

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
	$(PY) -m salespipe facts
	$(PY) -m salespipe report
	$(PY) -m salespipe doctor

# Every test, on every core (a test file stays on one worker: module fixtures are built once).
test: install
	$(PY) -m pytest -q -n auto --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/engine_bench.py $(ARGS)

# JupyterLab on notebooks/ (the forms), on 127.0.0.1 only; --allow-root when run as root.
# The database is SALESPIPE_DB, else data/salespipe.duckdb (00_start_here creates demo data if absent).
LAB_PORT ?= 8888
lab: install
	@export SALESPIPE_DB="$${SALESPIPE_DB:-$(CURDIR)/data/salespipe.duckdb}"; \
	root=$$( [ "$$(id -u)" = 0 ] && echo --allow-root ); \
	echo "JupyterLab: http://127.0.0.1:$(LAB_PORT)/lab/tree/00_start_here.ipynb (add the ?token=... printed below); database $$SALESPIPE_DB; Ctrl-C stops it"; \
	$(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.root_dir=notebooks $$root \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

# After changing a notebook: rebuild the outputs strict nbval compares (tests/notebooks/), then review the diff.
notebook-references: install
	$(PY) tests/notebooks/update_references.py

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
