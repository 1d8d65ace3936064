# Two commands do all set-up on a fresh machine (python3 and pip are all they need):
#   make demo   run the tap against the bundled fake API; rows land in ./output/
#   make test-all   lint, type-check and run every test, on each supported Python the machine has
#   make test       the same on python3 alone (the quick run)
#   make mutation   mutation testing of the sync engine (about an hour; not part of `make test`)
#   make bench      the tap between a plain loop and a msgspec loop, 200,000 rows (under 2 minutes)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The exact versions `make test`, `make demo` and CI install (pyproject.toml keeps the ranges
# users of the tap get); `make lock` writes it, dependabot bumps it (.github/dependabot.yml).
LOCK := constraints.txt
# The supported Pythons, each tested by `make test-all` and by CI; pyproject.toml's classifiers,
# the workflow's matrix, meltano-hub.yml and --about list the same (tests/test_hub_definition.py).
PYTHONS := 3.10 3.11 3.12 3.13
# pytest-xdist, a worker a CPU; tests/conftest.py keeps the tests that run Meltano on one worker.
# `make test PYTEST_ARGS=` runs the tests one at a time.
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: demo test test-all lock mutation bench

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	echo '*' > $(VENV)/.gitignore
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) pip
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) --build-constraint $(LOCK) -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m tap_crescendo.demo

test: $(BIN)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

# `make test` with each of PYTHONS (python3.X on the PATH, else pyenv's) in its own .venv-3.X,
# one after another, each followed by a line saying whether it passed and in how long.
test-all:
	@tested=; failed=; for version in $(PYTHONS); do \
		python=$$(python$$version -c 'import sys; print(sys.executable)' 2>/dev/null \
			|| pyenv prefix $$version 2>/dev/null | sed 's|$$|/bin/python|'); \
		if [ -z "$$python" ]; then echo "Python $$version is not installed: skipped"; continue; fi; \
		echo "Python $$version: $$python"; started=$$(date +%s); tested="$$tested $$version"; \
		if $(MAKE) --no-print-directory test VENV=.venv-$$version PYTHON=$$python; \
		then echo "Python $$version: passed in $$(( $$(date +%s) - started )) s"; \
		else echo "Python $$version: FAILED"; failed="$$failed $$version"; fi; \
	done; \
	if [ -z "$$tested" ]; then echo "None of Python $(PYTHONS) is installed" >&2; exit 1; fi; \
	if [ -n "$$failed" ]; then echo "make test-all failed on Python$$failed" >&2; exit 1; fi

mutation: $(BIN)/.installed
	$(BIN)/python scripts/mutation.py

bench: $(BIN)/.installed
	$(BIN)/python -m scripts.benchmark

# Pin every dependency of pyproject.toml (with the dev extra, and the build backend) for each
# supported Python, 3.10 on; run it after changing a dependency there. Pins that still fit are
# kept: `make lock LOCK_FLAGS=--upgrade` moves all to their newest releases, and
# LOCK_FLAGS='--upgrade-package singer-sdk' one. uv, from a throwaway venv, only resolves.
lock:
	set -e; venv=$$(mktemp -d); trap 'rm -rf "$$venv"' EXIT; \
	$(PYTHON) -m venv "$$venv"; \
	"$$venv/bin/python" -m pip install --quiet $(if $(wildcard $(LOCK)),--constraint $(LOCK)) uv; \
	echo hatchling | "$$venv/bin/uv" pip compile --quiet pyproject.toml - --extra dev \
		--universal --python-version 3.10 --custom-compile-command 'make lock' \
		--output-file $(LOCK) $(LOCK_FLAGS)
	@! grep -q '^backoff==' $(LOCK) || { \
		echo "$(LOCK) pins 'backoff', which clobbers the backoff module of python-backoff" >&2; \
		exit 1; }
