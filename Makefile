# Set-up, run, test and bench the registry. Needs Python 3.11+ and Node 18+; everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app registry
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test bench lint setup setup-dev assets translations clean-assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamps make a second run skip what is already installed.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	# The GeoPackage validator's scripts; --no-deps because it needs only the standard library for .gpkg checks.
	$(BIN)/pip install -q --no-deps gdal-utils==3.13.3.0
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.installed $(VENV)/.runtime
	$(BIN)/python scripts/install_assets.py

translations: $(VENV)/.runtime
	set -e; for po in registry/translations/*/LC_MESSAGES/*.po; do $(BIN)/pybabel compile -i $$po -o $${po%.po}.mo; done

setup: $(VENV)/.runtime assets translations

setup-dev: setup $(VENV)/.dev

run: setup
	$(FLASK) demo load --if-empty
	@echo ""
	@echo "  Registry: http://$(HOST):$(PORT)/"
	@echo "  Demo logins (demo registry only): admin / demo-admin-pass, manager / demo-manager-pass,"
	@echo "  manager2 / demo-manager-pass, manager3 / demo-manager-pass, citymanager / demo-manager-pass,"
	@echo "  planner / demo-planner-pass, reviewer / demo-reviewer-pass"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT) --with-threads

# Production: gunicorn on the store REGISTRY_DATABASE_URL names (see docs/DEPLOY.md); put nginx in front.
serve: setup
	$(FLASK) db upgrade
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py 'registry:create_app()'

# The import contracts first (pyproject.toml [tool.importlinter]): a broken arrow fails before the suite runs.
test: setup-dev
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q

bench: setup-dev
	$(BIN)/python -m bench

lint: setup-dev
	$(BIN)/ruff check .
