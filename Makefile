# linewatch — two commands on a fresh machine with Go installed:
#   make demo   run the whole system on embedded defaults (simulated plant);
#               again on the same data: make demo DEMO_FLAGS=--resume
#   make test   run every test against real InfluxDB, NATS and the OPC UA simulator
GO      ?= go
BIN     ?= bin/linewatch
TIMEOUT ?= 30m

.PHONY: all build test test-cluster test-deps demo cluster-demo vet fmt bench fuzz clean

all: build

# The report and `linewatch version` name the commit the binary was built
# from (internal/buildinfo); -dirty when the work tree had changes.
COMMIT  ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD -- 2>/dev/null || c=$$c-dirty; echo $$c; })
LDFLAGS ?= -X github.com/linewatch/linewatch/internal/buildinfo.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/linewatch

# Tests install what they need themselves (InfluxDB 1.8.10 via `go install`
# on first use, cached); test-deps adds the Debian packages used by the
# browser and PDF tests when it can (root with apt), and says so when not.
# -p 1: packages run one after another. Several packages start real servers
# and the end-to-end tests run the simulator at accelerated time; on a 2-core
# machine running them side by side only adds timing noise.
test: test-deps
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout $(TIMEOUT) ./...

test-deps:
	@bash scripts/test-deps.sh

demo: build
	./$(BIN) demo $(DEMO_FLAGS)

# Only the cluster cases of docs/deployment.md (three nats-server
# processes, every role a process; ~10 min). `make test` runs them too.
test-cluster: test-deps
	$(GO) test -count=1 -timeout 60m -v ./internal/cluster/

# The three-node layout of docs/deployment.md on this machine: three
# nats-server processes (R3), collector, two analytics and two alerts
# workers as separate processes, the simulated plant and InfluxDB.
cluster-demo: build
	$(GO) run ./internal/cmd/clusterdemo -dir linewatch-cluster

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzParse -fuzztime 60s

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin linewatch-data linewatch-cluster
