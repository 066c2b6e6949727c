# Moorage — the two commands: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test test-fast soak bench bench-all lint clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing pinned requirements into $(VENV) ..."
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## Set up (first run) and serve the registry on 127.0.0.1:$${MOORAGE_PORT:-5000} with worker and beat.
run: $(STAMP)
	@exec $(PY) manage.py run_registry

## Set up and run the whole test suite (SQLite unless MOORAGE_DATABASE_URL says otherwise), in
## parallel processes (pytest-xdist: one per core, at most 4; a file's tests stay in one process,
## which its module fixtures need). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

## Only the fast, in-process tests.
test-fast: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile -m "not e2e and not live" $(PYTEST_ARGS)

## Soak: concurrent pushes, pulls, tag moves, deletes and referrers while GC runs every second
## (make soak DURATION=600 WORKERS=4; prints figures, fails on any lost or failed operation).
DURATION ?= 600
WORKERS  ?= 4
soak: $(STAMP)
	$(PY) -m tests.soak --duration $(DURATION) --workers $(WORKERS)

## Benchmarks (print figures; never part of `make test`): Moorage vs CNCF Distribution vs nginx.
## Needs docker-registry, nginx and wrk (Debian); BENCH_ARGS=--quick for a short run (bench/README.md).
bench: $(STAMP)
	$(PY) bench/compare.py $(BENCH_ARGS)

## Every script in bench/ in turn (the comparison, hash speed, listing scale, S3 storage).
bench-all: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
