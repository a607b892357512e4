# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Finds PostgreSQL and Redis on localhost, or starts embedded ones, sets up the two database
# logins (docs/trust.md) and exports DATABASE_URL, DATABASE_OWNER_URL and REDIS_URL.
SERVICES := eval "$$(python3 scripts/devservices.py up)"
# The Ed25519 key that signs the audit digests (docs/trust.md), created once when missing;
# var/ is git-ignored. Relative paths are relative to the repository, as in settings.
AUDIT_SIGNING_KEY ?= var/audit-signing-key.pem
# Every target here is a local run (the demo, tests, benchmarks and fuzzing on throwaway databases):
# with DEBUG off, the development SECRET_KEY is accepted only because of this line
# (config/settings.py, README "Security"). `make run` also sets DEBUG=1.
export ALLOW_DEVELOPMENT_SECRET_KEY := 1

.PHONY: install run test test-fast lint format browsers bench-recorder bench-viewer schemathesis bench-export bench bench-integrity soak clean-services

# Exactly uv.lock's versions, each file checked against the lock's SHA-256 (README, "Updating
# dependencies"); uv itself comes from PyPI pinned by hash. --locked stops on a pyproject.toml
# edited without `uv lock`; --inexact leaves pip and anything else already in the venv. The
# project's code runs from the checkout (packages = []): only its dependencies are installed.
$(STAMP): pyproject.toml uv.lock requirements-uv.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.txt
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv sync --quiet \
	  --locked --inexact --no-install-project --extra dev
	touch $(STAMP)

install: $(STAMP)

$(AUDIT_SIGNING_KEY):
	@command -v openssl >/dev/null || { echo "openssl is needed to create $@ (apt-get install openssl)" >&2; exit 1; }
	@mkdir -p $(@D)
	@umask 077 && openssl genpkey -algorithm ed25519 -out $@.tmp && chmod 600 $@.tmp && mv $@.tmp $@
	@echo "Created the audit signing key $@: keep it off the database host and back it up"

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

run: install $(AUDIT_SIGNING_KEY)
	@export DEBUG="$${DEBUG:-1}" && $(SERVICES) && mkdir -p var && \
	  $(PY) manage.py migrate --noinput && \
	  $(PY) manage.py seed_demo && \
	  echo "Serving on http://127.0.0.1:8000 — sign in as admin@acme.test / auditdesk-demo (Ctrl-C stops everything)" && \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start

# The tests' own Redis database (`make run` uses REDIS_URL's, /0 by default), so a test run
# beside the demo neither flushes its cache nor feeds its Celery worker the tests' tasks.
TEST_REDIS_DB ?= 1

test: install browsers $(AUDIT_SIGNING_KEY)
	@$(SERVICES) && export REDIS_URL="$${REDIS_URL%/*}/$(TEST_REDIS_DB)" \
	  AUDITDESK_TEST_REDIS_DB=$(TEST_REDIS_DB) && \
	  $(PY) manage.py check --fail-level WARNING --database default && \
	  $(PY) -m pytest $(PYTEST_ARGS)

# A developer's quick answer: everything but the browser and slow tests, on two workers
# (pytest-xdist; each worker its own test database). CI runs `make test`.
test-fast: install $(AUDIT_SIGNING_KEY)
	@$(SERVICES) && export REDIS_URL="$${REDIS_URL%/*}/$(TEST_REDIS_DB)" \
	  AUDITDESK_TEST_REDIS_DB=$(TEST_REDIS_DB) && \
	  $(PY) -m pytest -m "not browser and not slow" -n 2 -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench-recorder: install
	@$(SERVICES) && $(PY) bench/recorder.py $(BENCH_ARGS)

# Loads 10M audit rows into auditdesk_bench once (minutes), then times the Audit Log page.
bench-viewer: install
	@$(SERVICES) && $(PY) bench/viewer.py $(BENCH_ARGS)

# Fuzzes the whole API from /api/schema/ on a live gunicorn with a real token: fails on any
# 5xx or schema violation. Also runs inside `make test` (tests/auditlog/test_api_schemathesis.py).
schemathesis: install
	@$(SERVICES) && $(PY) scripts/schemathesis_check.py $(SCHEMATHESIS_ARGS)

# 1,000,000 events streamed through the HTTP export vs a bare COPY of the same rows.
bench-export: install
	@$(SERVICES) && $(PY) bench/export.py $(BENCH_ARGS)

# Every benchmark at 1M and 10M events (SCALE=100M adds 100M), reusing loaded databases;
# writes bench/REPORT.md and bench/report.png. Long: about an hour on 2 cores.
bench: install
	@$(SERVICES) && SCALE="$(SCALE)" $(PY) bench/scale.py $(BENCH_ARGS)

# Sealing with signed digests (events/s), GET /api/v1/audit-integrity/ after sealing and after a
# verification pass, and scripts/verify_export.py on the largest organisation's export, at 1M
# and 10M events (reusing bench-viewer's 10M database when it fits), worst of three runs; then
# bench-recorder's ratios three times. Long: the loads, if needed, and the sealing take hours.
bench-integrity: install $(AUDIT_SIGNING_KEY)
	@$(SERVICES) && $(PY) bench/integrity.py $(BENCH_ARGS)

# 8 writers × 10,000 audited changes while PostgreSQL restarts and Redis stops, on servers of
# its own (spare ports, started by devservices, with the two logins); checks every row, the sealed
# chains against the signed digest files, and that the app login is refused. Minutes.
soak: install
	$(PY) bench/soak.py $(SOAK_ARGS)

clean-services:
	python3 scripts/devservices.py down
