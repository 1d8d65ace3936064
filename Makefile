# Two commands do all set-up on a fresh machine (python3 and pip are all they need):
#   make demo   run the tap against the bundled fake API; rows land in ./output/
#   make test   lint, type-check and run every test
#   make mutation   mutation testing of the sync engine (about 37 minutes; not part of `make test`)
#   make bench      the tap between a plain loop and a msgspec loop, 200,000 rows (under 2 minutes)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The exact versions `make test`, `make demo` and CI install (pyproject.toml keeps the ranges
# users of the tap get); `make lock` writes it, dependabot bumps it (.github/dependabot.yml).
LOCK := constraints.txt

.PHONY: demo test lock mutation bench

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
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
	$(BIN)/pytest

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
