# payerkb: `make run` builds the database from policies/ and serves it; `make test` runs the suite.
# Both set everything up on a fresh machine (a .venv with the project and its test extras).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8001

.PHONY: install build run test test-fast bench browser clean

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

test: install browser
	$(PY) -m pytest -q

# Everything but the tests that start servers or browsers, fuzz or load (a quick loop while editing).
test-fast: install
	$(PY) -m pytest -q -m "not browser and not server and not fuzz and not slow"

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf db/*.db db/*.whoosh db/*.inspect.json .pytest_cache test-artifacts
