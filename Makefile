# Build and test targets. `make test` needs Redis on REDIS_URL (default
# redis://127.0.0.1:6379), PostgreSQL on 127.0.0.1:5432 and Node.js 20+;
# .ci/run starts the servers when they are down.

GO  ?= go
NPM ?= npm

.PHONY: test vet build demo bench

test: interop/node_modules
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/nimara ./cmd/nimara

# Run the fleet on real input: a Node producer enqueues CRM jobs, nimara processes them,
# QueueEvents and Socket.IO browsers show the results. Needs Redis, PostgreSQL and psql.
demo:
	interop/demo/run.sh

# Compare the Go BullMQ worker with the Node bullmq worker on the local Redis (REDIS_URL or
# 127.0.0.1:6379). docs/benchmarks.md records the results. BENCH_FLAGS adds harness flags,
# such as BENCH_FLAGS="-runs 5 -v".
bench: interop/node_modules
	$(GO) run ./bench/bullmq -jobs 20000 $(BENCH_FLAGS)

# Reinstall the Node interop peers when node_modules is missing or older than
# the lockfile. The touch marks the directory as current even when npm ci
# leaves its modification time unchanged.
interop/node_modules: interop/package-lock.json
	cd interop && $(NPM) ci --no-audit --no-fund
	touch interop/node_modules
