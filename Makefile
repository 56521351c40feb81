# smkit: small verbs, each one line or a call to a script. `make help` lists them.
SHELL := /bin/bash
VERSION := $(shell python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
IMAGE ?= smkit-inference:$(VERSION)
IMAGE_LATEST := $(firstword $(subst :, ,$(IMAGE))):latest
PY := .venv/bin/python
export SMKIT_IMAGE := $(IMAGE)
# Free disk the image builds and the tests want, and below which stale smkit images go.
NEED_GB ?= 15
PRUNE_BELOW_GB ?= 40

.PHONY: help install wheel engine space build-container emulators-up emulators-down browser test test-unit lint demo bench bench-quick soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: ## create .venv with smkit and its pinned dependencies
	@bash scripts/venv.sh

engine: ## make sure a Docker engine is running (installs Debian docker.io if needed)
	@bash scripts/ensure-engine.sh

space: install engine ## room on the engine's disk: prunes stale smkit images when it runs low, fails when still too low
	$(PY) -m smkit.cli images ensure-space $(NEED_GB) --prune-below $(PRUNE_BELOW_GB)

build-container: ## build the default image (IMAGE=name:tag overrides; SPEC=smkit.yaml: that model's product image)
	@bash scripts/build-container.sh $(IMAGE) $(IMAGE_LATEST)

emulators-up: install ## start moto, the local registry and the Catalog API emulator
	$(PY) -m smkit.cli emulators up

emulators-down: ## stop the emulators
	$(PY) -m smkit.cli emulators down

browser: ## headless Chromium for the listing preview tests (Debian package)
	@bash scripts/ensure-chromium.sh

test: install space build-container browser ## the whole test suite, container tests included (and smkit's wheel, installed in a fresh venv, running the demo)
	$(PY) -m pytest

test-unit: install ## the tests that need no Docker engine
	$(PY) -m pytest -m "not container"

wheel: install ## smkit as a wheel in dist/, with dist/constraints.txt (README: "Install smkit anywhere")
	@bash scripts/wheel.sh

lint: install ## ruff and mypy
	$(PY) -m ruff check container packaging tests bench scripts setup.py
	$(PY) -m mypy

demo: install space build-container ## the end-to-end journey, offline (writes .smkit/demo/)
	@bash scripts/ensure-registry.sh
	$(PY) -m smkit.cli demo $(ARGS)

bench: install build-container ## benchmarks: figures and ratios in bench/results/ (ARGS=--quick)
	@bash scripts/ensure-bench-tools.sh
	$(PY) bench/run.py $(ARGS)

soak: install build-container ## memory soak: 100k requests, RSS before/after (ARGS=--requests N)
	$(PY) bench/soak.py $(ARGS)

bench-quick: ## the benchmark in about two minutes (no cold builds, no 1 GB model)
	@$(MAKE) --no-print-directory bench ARGS=--quick

clean: ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
