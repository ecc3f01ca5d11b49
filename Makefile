# inlife: the README's two commands are `make demo` and `make test`; everything else is for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Test processes side by side (pytest-xdist, one Spark driver each): most tests wait on driver-side
# planning, Delta commits and JVM start-up rather than on both cores, so two overlap well on two cores.
TEST_WORKERS ?= 2
MVN    ?= mvn

.PHONY: demo test test-fast lint bench mlflow-ui clean check-java check-python help jars docs-assets browser

help:
	@echo "make demo   - set up .venv if needed and run the main job locally on generated data"
	@echo "make test   - set up .venv if needed and run the test suite"
	@echo "make lint   - check the Python code with ruff (ruff.toml)"
	@echo "make bench  - run the benchmarks (prints JSON)"
	@echo "make clean  - remove the local lake, MLflow store and build files (not .venv)"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || { \
	  echo "inlife needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Install it (Debian/Ubuntu: apt-get install python3 python3-venv) or run: make PYTHON=python3.11 ..."; \
	  exit 1; }

check-java:
	@v=$$(java -version 2>&1 | awk -F'"' '/version/ {print $$2}' | awk -F. '{print ($$1 == "1") ? $$2 : $$1}'); \
	if [ -z "$$v" ]; then \
	  echo "Java was not found. Spark 4 needs Java 17 or 21:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless"; \
	  echo "  macOS:         brew install openjdk@17"; exit 1; \
	elif [ "$$v" -lt 17 ]; then \
	  echo "Java $$v is too old. Spark 4 needs Java 17 or 21:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless (then select it with update-alternatives)"; \
	  exit 1; fi

$(STAMP): setup.py deps/pom.xml lib/inlife/quality/docs_assets.py | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory jars
	@$(MAKE) --no-print-directory docs-assets
	@touch $(STAMP)

# The Delta Lake jars of the installed delta-spark release, with this machine's Maven and its own settings
# (deps/pom.xml). Without them set-up goes on, and lake.engine: auto then picks the delta-rs engine.
jars:
	@v=$$($(PY) -c 'from importlib.metadata import version; print(version("delta-spark"))') || exit 1; \
	if ! command -v $(firstword $(MVN)) >/dev/null 2>&1; then \
	  echo "Delta Lake jars not fetched: mvn is not installed (apt-get install maven, then make jars); the delta-rs engine will be used"; \
	elif mkdir -p build && rm -rf jars.tmp && $(MVN) -B -q -f deps/pom.xml dependency:copy-dependencies \
	      -Ddelta.version=$$v -DincludeScope=runtime -DoutputDirectory="$(CURDIR)/jars.tmp" >build/jars.log 2>&1; then \
	  rm -rf jars && mv jars.tmp jars && echo "Delta Lake $$v jars in jars/: $$(cd jars && ls | tr '\n' ' ')"; \
	else \
	  rm -rf jars.tmp; echo "Delta Lake jars not fetched: Maven could not resolve io.delta:delta-spark_2.13:$$v (build/jars.log); the delta-rs engine will be used"; \
	fi

# Data Docs' scripts, styles and fonts, pinned (lib/inlife/quality/docs_assets.py), with this machine's npm and
# its own registry settings. Without them set-up goes on, and Data Docs load them from public CDNs.
docs-assets:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "Data Docs assets not fetched: npm is not installed (apt-get install npm, then make docs-assets); Data Docs will need the internet"; \
	elif mkdir -p build && rm -rf build/docs_assets.tmp && \
	      $(PY) -m inlife.quality.docs_assets build/docs_assets.tmp >build/docs_assets.log 2>&1; then \
	  rm -rf build/docs_assets && mv build/docs_assets.tmp build/docs_assets && echo "Data Docs assets in build/docs_assets/"; \
	else \
	  rm -rf build/docs_assets.tmp; echo "Data Docs assets not fetched (build/docs_assets.log); Data Docs will need the internet"; \
	fi

# Debian's Chromium, headless, for the tests that open a page as its readers do.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; mkdir -p build; \
	  $(SUDO) apt-get update -qq >build/chromium.log 2>&1 && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>build/chromium.log 2>&1 || \
	  { echo "chromium could not be installed (build/chromium.log): the browser tests will fail"; }; }

demo: check-java $(STAMP)
	$(VENV)/bin/inlife demo

test: check-java $(STAMP) browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: check-java $(STAMP) browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: check-java $(STAMP)
	$(PY) benchmarks/matrices.py --subscribers 1000000 --rules 10 --repeat 3
	$(PY) benchmarks/matrices.py --subscribers 1000000 --rules 1000 --repeat 3
	$(PY) benchmarks/nightly.py --subscribers 20000
	$(PY) benchmarks/generate_and_ingest.py --subscribers 100000

mlflow-ui: $(STAMP)
	$(VENV)/bin/inlife models ui --port 5000   # the stores of mlflow.* in the config (overlay, INLIFE_MLFLOW__*)

clean:
	rm -rf lakehouse landing truth mlflow.db mlartifacts build spark-warehouse metastore_db derby.log
