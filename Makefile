# payerkb: `make run` builds the database from policies/ and serves it; `make test` runs the suite.
# Both set everything up on a fresh machine (a .venv with the project and its test extras).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8001

.PHONY: install build run test test-fast test-datasette1 bench browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

build: install
	$(VENV)/bin/payerkb build

run: build
	$(VENV)/bin/payerkb serve --port $(PORT)

# Debian's Chromium drives the browser tests (Playwright's own browser download cannot work here).
browser:
	@if [ ! -x /usr/bin/chromium ] && ! command -v apt-get >/dev/null; then \
	  echo "no apt-get here: the browser tests will skip (set PAYERKB_REQUIRE_BROWSER=1 to make them fail instead)"; \
	elif [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# pytest-xdist workers: one per core. Each worker collects the suite and builds the shared
# knowledge base once (~10 s of CPU), so on a machine whose cores are busy with other work
# WORKERS=0 (one process) finishes sooner.
WORKERS ?= auto

# The full suite.
test: install browser
	$(PY) -m pytest -q -n $(WORKERS)

# Everything but the tests that start servers or browsers, fuzz or load (a quick loop while editing).
test-fast: install
	$(PY) -m pytest -q -n $(WORKERS) -m "not browser and not server and not fuzz and not slow"

# The page and canned-query tests on the newest Datasette 1.0 alpha, in a second venv (.venv-ds1):
# Datasette and its plugins (datasette-*) as pre-releases, the project's other dependencies as
# pinned; .ci/run runs it after `make test`. 0.65 stays the pin of the main venv.
VENV1 := .venv-ds1
PY1 := $(VENV1)/bin/python
STAMP1 := $(VENV1)/.installed-stamp
DATASETTE1_TESTS := tests/test_pages.py tests/test_datasette.py tests/test_citizen_datasette.py \
	tests/test_search.py tests/test_search_fts.py tests/test_check_web.py tests/test_answer_cli_web.py \
	tests/test_answer_page.py tests/test_drugs_pages.py tests/test_x12_web.py tests/test_changes.py \
	tests/test_changes_feed.py tests/test_changes_rebuild.py \
	tests/test_matrix_filters.py tests/test_matrix_agree.py tests/test_matrix_paging.py \
	tests/test_serve_e2e.py

$(STAMP1): pyproject.toml
	$(PYTHON) -m venv $(VENV1)
	$(PY1) -m pip install --quiet --upgrade pip
	$(PY1) -c 'import re, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  names = lambda d: re.split(r"[ <>=!~;\[]", d, maxsplit=1)[0].lower(); \
	  deps = [d for d in p["dependencies"] + p["optional-dependencies"]["test"] if names(d) != "datasette"]; \
	  open("$(VENV1)/plugins.txt", "w").write("\n".join(names(d) for d in deps if names(d).startswith("datasette-"))); \
	  open("$(VENV1)/requirements.txt", "w").write("\n".join(d for d in deps if not names(d).startswith("datasette-")))'
	$(PY1) -m pip install --quiet --pre 'datasette>=1.0a0' -r $(VENV1)/plugins.txt
	$(PY1) -m pip install --quiet -r $(VENV1)/requirements.txt
	$(PY1) -m pip install --quiet --no-deps -e .
	$(PY1) -c 'import importlib.metadata as m, sys; v = m.version("datasette"); print("Datasette", v); sys.exit(not v.startswith("1."))'
	touch $(STAMP1)

test-datasette1: $(STAMP1)
	$(PY1) -m pytest -q -n $(WORKERS) -m "not browser and not fuzz" $(DATASETTE1_TESTS)

bench: install
	$(PY) -m benchmarks.run

# The optional 100,000-payer scale (long: generation, build, lookup, search, page sizes); it
# replaces only its own section of docs/benchmarks.md.
.PHONY: bench-100k
bench-100k: install
	$(PY) -m benchmarks.run --large 100000 --large-only

clean:
	rm -rf db/*.db db/*.whoosh db/*.inspect.json .pytest_cache test-artifacts
