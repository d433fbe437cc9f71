# ei-usage developer commands. Needs only python3 (>= 3.11) and make: everything else is
# installed, pinned by requirements/dev.lock, into .venv.
#
#   make test       lint, format check, mypy --strict, drift check of generated/, pytest
#   make demo       show what the package does, offline
#
# Maintenance (README, "When Edge Impulse changes its spec"):
#   make spec-diff FROM=openapi.yml    what a new full spec changes for our operations: no change,
#                                      compatible, regenerate (wrapper unaffected) or breaking, after
#                                      running the generator on it in a temporary directory; writes
#                                      nothing (JSON=1 for JSON). The script's own exit status (0 OK,
#                                      4 breaking, 1 error, 2 usage; --help) is what CI should read
#   make vendor-spec FROM=openapi.yml  slice it into openapi/edge-impulse.yaml, printing that report
#   make generate                      regenerate generated/ from the slice (check-generated: compare)
#   make release                       checks, builds and tags a release (README, "Releasing")
#   make dist, make lock, make record, make record-live, make bench (bench-listing, -options: one section)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed
# Every wheel an internal index that does not mirror PyPI must serve besides ours (README, "Pinning a
# version"), downloaded here by `make venv` so the release tests install without the internet: the
# runtime dependencies (requirements/runtime.lock), those of `ei-usage[cli]` (requirements/cli.lock)
# and the build backend that pip needs to build ei-usage from a git pin or the sdist
# (requirements/build.lock).
WHEELHOUSE := $(VENV)/wheelhouse
# uv, not the machine's pip, installs the lock: fast, and it verifies the lock's hashes.
UV := $(BIN)/uv
export UV_PYTHON := $(BIN)/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv test lint format typecheck check-generated generate vendor-spec spec-diff pytest dist \
	demo lock clean record record-live bench bench-listing bench-exporter bench-options release \
	test-spec-mutations bench-spec-diff

venv: $(STAMP)

# _version.py too: the editable install's metadata (what importlib.metadata reports) holds the
# version it was installed at.
$(STAMP): requirements/dev.lock requirements/runtime.lock requirements/cli.lock \
		requirements/build.lock pyproject.toml wrapper/ei_usage/_version.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ei-usage needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet requirements/dev.lock
	$(UV) pip install --quiet --no-deps --editable .
	rm -rf $(WHEELHOUSE)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
		--require-hashes -r requirements/runtime.lock -d $(WHEELHOUSE)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
		--require-hashes -r requirements/cli.lock -d $(WHEELHOUSE)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
		--require-hashes -r requirements/build.lock -d $(WHEELHOUSE)
	touch $@

test: lint typecheck check-generated pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

check-generated: $(STAMP)
	$(BIN)/python openapi/tools/generate.py --check

generate: $(STAMP)
	$(BIN)/python openapi/tools/generate.py

vendor-spec: $(STAMP)
	@test -n "$(FROM)" || { echo 'usage: make vendor-spec FROM=path/to/openapi.yml' >&2; exit 2; }
	$(BIN)/python openapi/tools/vendor_spec.py --from "$(FROM)"

spec-diff: $(STAMP)
	@test -n "$(FROM)" || { echo 'usage: make spec-diff FROM=path/to/openapi.yml [JSON=1]' >&2; exit 2; }
	$(BIN)/python openapi/tools/vendor_spec.py --from "$(FROM)" --dry-run $(if $(JSON),--json)

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A larger sample of generated spec mutations than `make test` runs (tests/openapi/
# test_spec_mutations.py): each is proven by spec-diff, with the full proof test set, and checked
# by the maintainer's steps in a copy of the project. About a minute per mutation.
SPEC_MUTATIONS ?= 10
test-spec-mutations: $(STAMP)
	EI_SPEC_MUTATIONS=$(SPEC_MUTATIONS) EI_SPEC_PROOF_TESTS=full $(BIN)/python -m pytest \
		tests/openapi/test_spec_mutations.py -q -k larger $(PYTEST_ARGS)

# Re-record every cassette against a local FakeStudio, then check the new files' hygiene.
record: $(STAMP)
	rm -rf tests/recorded/cassettes
	$(BIN)/python -m pytest tests/recorded/test_recorded_client.py --record-mode=rewrite -q
	$(BIN)/python -m pytest tests/recorded -q

# Re-record against the real Studio (simulator-only tests keep their cassettes). Needs
# EI_API_KEY, EI_BASE_URL, EI_ORG_ID and EI_INNER_ORG_ID; ids and credentials are scrubbed.
record-live: $(STAMP)
	@for v in EI_API_KEY EI_BASE_URL EI_ORG_ID EI_INNER_ORG_ID; do \
		printenv $$v >/dev/null || { echo "make record-live needs $$v" >&2; exit 2; }; done
	EI_RECORD_LIVE=1 $(BIN)/python -m pytest tests/recorded/test_recorded_client.py \
		--record-mode=rewrite -q
	$(BIN)/python -m pytest tests/recorded -q

# Built from the locked environment (hatchling is pinned in the lock like everything else), so a
# build needs no network and makes the same artifacts the tests check.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

# Cut the release whose version is in wrapper/ei_usage/_version.py (README.md, "Releasing"): check
# version, CHANGELOG, generated code and git state first (fast), then the whole test suite, build,
# check again and create the annotated tag vX.Y.Z. Pushes and uploads nothing: it prints how.
release: $(STAMP)
	$(BIN)/python tools/release.py check
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory dist
	$(BIN)/python tools/release.py tag

demo: $(STAMP)
	$(BIN)/python -m ei_usage.testing.demo

# Re-resolve the pinned environments after editing pyproject.toml's dependencies. Existing pins are
# kept (uv prefers the versions already in the output file; `--upgrade-package NAME` via LOCK_ARGS
# moves one). dev.lock: runtime + every extra + the dev dependency group. runtime.lock: what
# `pip install ei-usage` needs, at dev.lock's versions (the release test serves these wheels).
# cli.lock: what `pip install 'ei-usage[cli]'` needs, at dev.lock's versions, likewise served.
# build.lock: [build-system] requires (hatchling), at dev.lock's versions, for git pins and sdists.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --all-extras --group dev $(LOCK_FLAGS) -o requirements/dev.lock
	$(UV) pip compile pyproject.toml --constraint requirements/dev.lock $(LOCK_FLAGS) \
		-o requirements/runtime.lock
	$(UV) pip compile pyproject.toml --extra cli --constraint requirements/dev.lock $(LOCK_FLAGS) \
		-o requirements/cli.lock
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(UV) pip compile - --constraint requirements/dev.lock $(LOCK_FLAGS) -o requirements/build.lock

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .hypothesis

# Benchmarks (bench/README.md): print the table and write bench/RESULTS.md. The official bindings,
# compared against, go into their own venv, bench/.venv-official, never into .venv.
# BENCH_ARGS=--quick for a smoke run.
OFFICIAL_VENV := bench/.venv-official
bench: $(STAMP)
	test -x $(OFFICIAL_VENV)/bin/python || $(UV) venv --quiet --python $(BIN)/python $(OFFICIAL_VENV)
	$(UV) pip sync --quiet --python $(OFFICIAL_VENV)/bin/python bench/requirements-official.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The hostile-listing section of the benchmarks alone (bench/listing.py): prints its rows, writes
# nothing.
bench-listing: $(STAMP)
	$(BIN)/python bench/listing.py

# The exporter's benchmarks (bench/exporter.py, ~8 minutes): prints its rows and records them in
# bench/RESULTS.md under "## Exporter".
bench-exporter: $(STAMP)
	$(BIN)/python bench/exporter.py --write

bench-options: $(STAMP)
	$(BIN)/python bench/options.py

# How long make spec-diff takes on the unchanged full spec, and proving a changed one
# (bench/spec_diff.py; EI_FULL_SPEC or ../shared/specs): prints its rows, writes nothing.
bench-spec-diff: $(STAMP)
	$(BIN)/python bench/spec_diff.py $(BENCH_ARGS)
