# Two commands: `make run` (set up and serve the whole system) and `make test` (set up and run every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | { grep -v "^WARNING: Location" || true; }; \
	  test $${PIPESTATUS[0]} -eq 0
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	bash scripts/run.sh

test: $(STAMP)
	bash scripts/test.sh $(ARGS)

bench: $(STAMP)
	.venv/bin/python -m bench.bench_screening
	.venv/bin/python -m bench.bench_checks
	.venv/bin/python -m bench.bench_queues
	.venv/bin/python -m bench.bench_letters
	.venv/bin/python -m bench.bench_authorize
	.venv/bin/python -m bench.bench_case_page
	@echo "Figures written to bench/results.json"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) artifacts .pytest_cache
