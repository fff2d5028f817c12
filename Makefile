# Two commands: `make run` (web + worker + beat with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The compiled translations (never committed): rebuilt whenever a .po changes.
PO := $(wildcard locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)

.PHONY: run test install lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create .venv: on Debian/Ubuntu run 'apt-get install python3-venv'."; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# compilemessages needs GNU gettext's msgfmt (Debian: apt-get install gettext).
locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(STAMP)
	@command -v msgfmt >/dev/null || { echo "msgfmt is missing: on Debian/Ubuntu run 'apt-get install gettext'."; exit 1; }
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-compilemessages} $(PY) manage.py compilemessages --ignore=.venv >/dev/null

install: $(STAMP) $(MO)

run: $(STAMP) $(MO)
	@bash scripts/run.sh

test: $(STAMP) $(MO)
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
