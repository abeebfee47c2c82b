# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test bench install clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The demo serves its own feeds at 127.0.0.1:$(PORT), so only that host and port pass the address rule.
PORT ?= 5000
run: export DEMO_FEEDS ?= 1
run: export FETCH_ALLOW_HOSTS ?= 127.0.0.1:$(PORT)
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# The demo's failing links are alerted at their first failure, so the Notifications page fills within a minute.
run: export ALERT_AFTER_FAILURES ?= 1
# Links sync every 2 minutes in the demo, so the flaky demo feed's recovery shows within minutes too.
run: export SYNC_INTERVAL_MINUTES ?= 2
run: $(STAMP)
	$(FLASK) init-db
	$(FLASK) demo --if-empty
	exec $(FLASK) serve-all --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache
