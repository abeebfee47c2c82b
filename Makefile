# Two commands on a fresh machine: `make run` and `make test`.
# requirements.txt is what production runs, requirements-dev.txt adds the tests' packages: both are locks of
# the whole tree (every package pinned), made by `make lock` from requirements.in and requirements-dev.in.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
RUN_STAMP := $(VENV)/.installed-run-$(shell cksum requirements.txt | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: run test lint bench install install-dev lock clean

$(RUN_STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-*
	touch $(DEV_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

# Re-lock after editing requirements.in or requirements-dev.in (pip-tools in a venv of its own).
LOCK_VENV := $(VENV)-lock
LOCK := $(LOCK_VENV)/bin/pip-compile -q --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q pip-tools)
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) --no-header -o $(LOCK_VENV)/dev.txt requirements-dev.in
	(echo "# The tests' packages on top of production's: made by \`make lock\` from requirements-dev.in"; \
	 echo "-r requirements.txt"; cat $(LOCK_VENV)/dev.txt) > requirements-dev.txt

# The demo serves its own feeds at 127.0.0.1:$(PORT), so only that host and port pass the address rule.
PORT ?= 5000
run: export DEMO_FEEDS ?= 1
run: export FETCH_ALLOW_HOSTS ?= 127.0.0.1:$(PORT)
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# The demo's failing links are alerted at their first failure, so the Notifications page fills within a minute.
run: export ALERT_AFTER_FAILURES ?= 1
# Links sync every 2 minutes in the demo, so the flaky demo feed's recovery shows within minutes too.
run: export SYNC_INTERVAL_MINUTES ?= 2
run: $(RUN_STAMP)
	$(FLASK) init-db
	$(FLASK) demo --if-empty
	exec $(FLASK) serve-all --port $(PORT)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff with the rules in pyproject.toml; `$(BIN)/ruff check --fix .` mends the safe ones.
lint: $(DEV_STAMP)
	$(BIN)/ruff check .

bench: $(DEV_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(VENV)-lock instance .pytest_cache
