# Two commands: `make run` (web + worker + beat with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create .venv: on Debian/Ubuntu run 'apt-get install python3-venv'."; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@bash scripts/run.sh

test: $(STAMP)
	@mkdir -p var
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-test-only-secret-key-not-for-production} \
		$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .

# The incoming call against its bare baseline (scripts/bench/run.py; README "Benchmark"). BENCH_DB names the
# PostgreSQL database it fills (created if missing); the first run builds 10.4 million shifts (minutes).
bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "Installing wrk (Debian package)"; \
		$$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y wrk >/dev/null; }
	BENCH_DB=$${BENCH_DB:-postgres://postgres@127.0.0.1:5432/roulette_bench} $(PY) scripts/bench/run.py

clean:
	rm -rf $(VENV) var
