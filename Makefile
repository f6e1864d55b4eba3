# Two commands: `make run` (start the service on SQLite + local disk) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-long test-sqlite lint bench cluster clean dist

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(STAMP)

run: $(STAMP)
	OBJECTSTORE_WEB_PORT=$${OBJECTSTORE_WEB_PORT:-9001} \
	OBJECTSTORE_WEB_DOMAIN=$${OBJECTSTORE_WEB_DOMAIN:-localhost} $(BIN)/objectstore serve

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The full suite: unit tests, API tests on SQLite and on a throwaway PostgreSQL, and real S3
# clients (boto3, aws CLI, s3cmd, minio, rclone) against a real server; the web console in
# Debian's chromium (scripts/ensure-chromium.sh installs it); event targets on throwaway RabbitMQ,
# NATS and Redis instances (scripts/ensure-brokers.sh: started first, RabbitMQ boots while the
# linters run, waited for before pytest). Long fault and crash runs (marked `long`) are left to
# `make test-long`.
test: $(TEST_STAMP)
	bash scripts/ensure-brokers.sh --no-wait
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-seaweedfs.sh >/dev/null
	bash scripts/ensure-nginx.sh >/dev/null
	bash scripts/ensure-brokers.sh
	. scripts/pg-env.sh && . scripts/broker-env.sh && \
	  $(BIN)/pytest -q -p no:cacheprovider -m "not long" --durations=30

# Only the long fault and crash runs (marked `long`): gateways, volume servers and the
# background leader SIGKILLed through many uploads, and crash loops with many kills.
test-long: $(TEST_STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-seaweedfs.sh >/dev/null
	bash scripts/ensure-nginx.sh >/dev/null
	. scripts/pg-env.sh && $(BIN)/pytest -q -p no:cacheprovider -m long -s

# The same without PostgreSQL: tests marked `postgres` (the PostgreSQL variants) and `long`
# are deselected.
test-sqlite: $(TEST_STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m "not postgres and not long"

# The scaled-out layout on loopback: PostgreSQL, a SeaweedFS master and three volume servers,
# two gateways and nginx in front (S3 on :9000, API on :8000); Ctrl-C stops everything.
cluster: $(TEST_STAMP)
	bash scripts/ensure-postgres.sh >/dev/null
	bash scripts/ensure-seaweedfs.sh >/dev/null
	bash scripts/ensure-nginx.sh >/dev/null
	. scripts/pg-env.sh && $(BIN)/objectstore dev-cluster $(CLUSTER_ARGS)

# `make bench`: the main bench (bench/README.md), then the scale-out one (python -m bench.cluster,
# issue 13). Only the main one: `make bench BENCH_CLUSTER=0`; only the scale-out one:
# `make bench-cluster`. BENCH_ARGS / BENCH_CLUSTER_ARGS go to each.
BENCH_CLUSTER ?= 1
.PHONY: bench-cluster bench-deps
bench-deps: $(TEST_STAMP)
	bash bench/setup.sh
	$(BIN)/pip install -q -e '.[test,bench]'
	bash scripts/ensure-postgres.sh >/dev/null
	bash scripts/ensure-seaweedfs.sh >/dev/null
	bash scripts/ensure-nginx.sh >/dev/null

bench: bench-deps
	. scripts/pg-env.sh && $(BIN)/python -m bench $(BENCH_ARGS)
	if [ "$(BENCH_CLUSTER)" != 0 ]; then . scripts/pg-env.sh && $(BIN)/python -m bench.cluster $(BENCH_CLUSTER_ARGS); fi

bench-cluster: bench-deps
	. scripts/pg-env.sh && $(BIN)/python -m bench.cluster $(BENCH_CLUSTER_ARGS)

# `make dist`: the sdist and the wheel in dist/ (with the console's templates and static files);
# install the wheel anywhere with `pip install dist/objectstore-*.whl` (docs/deploy.md).
dist: $(TEST_STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) data .pytest_cache dist
