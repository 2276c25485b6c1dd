# berth — two commands on a fresh machine:
#   make run    build the bundled plugins and serve them on http://127.0.0.1:8080/mcp
#   make test   install what the tests need, then run every test
#
# The cargo target dir lives outside the clone so wasmtime is not rebuilt for
# every checkout; it is only a cache.
CARGO_TARGET_DIR ?= $(HOME)/.cache/berth-target
export CARGO_TARGET_DIR

WASM_TARGET  := wasm32-wasip2
WASM_OUT     := $(CARGO_TARGET_DIR)/$(WASM_TARGET)/release
BUNDLED      := echo textkit
FIXTURES     := faulty conformance bulk
FIXTURES_DIR := .build/fixtures
VENV         := .build/venv
PYTHON       ?= python3
ARGS         ?=
BERTH_HOME   ?= $(HOME)/.local/share/berth

.PHONY: run install c-toolchain test-services plugins fixtures wasm-target test test-rust test-python test-deploy test-conformance test-fuzz test-load scenarios compare fuzz fuzz-tools lint venv bench clean

## run: build the bundled plugins and run `berth serve` with them (pass more flags with ARGS="...")
run: plugins
	cargo run --release -p berth -- serve --plugins plugins $(ARGS)

## install: put berth on the PATH (cargo install into ~/.cargo/bin) and the bundled plugins in $(BERTH_HOME)/plugins
install: plugins
	cargo install --locked --path host
	@mkdir -p $(BERTH_HOME)/plugins
	@for p in $(BUNDLED); do cp plugins/$$p.wasm $(BERTH_HOME)/plugins/$$p.wasm; done
	@echo "installed: $$(command -v berth || echo "$${CARGO_HOME:-$$HOME/.cargo}/bin/berth (add it to PATH)")"
	@echo "plugins:   $(BERTH_HOME)/plugins"

## wasm-target: install the wasm32-wasip2 Rust target if it is missing
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

## plugins: build the bundled plugins into plugins/
plugins: wasm-target
	cd examples/plugins && cargo build --release --target $(WASM_TARGET)
	@mkdir -p plugins
	@for p in $(BUNDLED); do cp $(WASM_OUT)/$$p.wasm plugins/$$p.wasm; done
	@echo "built plugins: $(BUNDLED)"

## fixtures: build the test-only plugins into .build/fixtures/ (never into plugins/)
fixtures: plugins
	@mkdir -p $(FIXTURES_DIR)
	@for p in $(FIXTURES); do cp $(WASM_OUT)/$$p.wasm $(FIXTURES_DIR)/$$p.wasm; done

## c-toolchain: what the C template needs: clang, lld and wasi-libc (Debian packages, installed when missing) and wit-bindgen 0.46 (crates.io, into .build/tools)
C_PACKAGES := clang lld wasi-libc libclang-rt-14-dev-wasm32
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
c-toolchain: .build/tools/bin/wit-bindgen
	@missing=$$(for p in $(C_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2> /dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  command -v apt-get > /dev/null || { echo "install clang (wasm32), wasm-ld and a WASI libc for the C template: missing $$missing"; exit 1; }; \
	  echo "installing $$missing"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi

## test-services: servers and tools the tests start: an OCI registry (docker-registry), openssl, redis-server (also
## run as Sentinels), haproxy, prometheus with promtool, rsvg-convert to check the benchmark charts render, iproute2's
## `ip` for the partition test's network namespaces (Debian packages, installed when missing)
SERVICE_PACKAGES := docker-registry openssl redis-server haproxy prometheus librsvg2-bin iproute2
test-services:
	@missing=$$(for p in $(SERVICE_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2> /dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  command -v apt-get > /dev/null || { echo "install what the tests start (a distribution registry, openssl, redis-server, haproxy, prometheus): missing $$missing"; exit 1; }; \
	  echo "installing $$missing"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

.build/tools/bin/wit-bindgen:
	cargo install wit-bindgen-cli --version 0.46.0 --locked --root .build/tools

## venv: a Python virtualenv with the official MCP Python SDK and pytest
venv: $(VENV)/.installed
$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	@touch $@

## lint: formatting, clippy with warnings as errors, no import cycles in host/src, no file over 400 lines
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cd examples/plugins && cargo clippy --target $(WASM_TARGET) -- -D warnings
	$(PYTHON) .ci/cycles.py host/src
	@long=$$(find host/src -name '*.rs' -exec wc -l {} + | awk '$$2 != "total" && $$1 > 400'); \
	  if [ -n "$$long" ]; then echo "files over 400 lines (split them by concept):"; echo "$$long"; exit 1; fi

## test: everything: lint, Rust tests, Python SDK client tests, official conformance suites, fuzz smoke
test: fixtures venv lint test-deploy test-fuzz test-rust test-python test-load test-conformance

test-rust: fixtures test-services
	cargo test --workspace

test-python: fixtures venv c-toolchain test-services
	cargo build -p berth
	BERTH_BIN=$(CARGO_TARGET_DIR)/debug/berth $(VENV)/bin/python -m pytest tests/python -q

## test-deploy: the shipped deployment files: every Kubernetes manifest against the API schemas
## (offline, strict: unknown fields fail), haproxy.cfg parsed by HAProxy itself, the Prometheus
## config and alert rules checked and every alert unit-tested by promtool
K8S_VERSIONS := 1.30.0 1.37.0
test-deploy: venv test-services
	@for version in $(K8S_VERSIONS); do \
	  $(VENV)/bin/kubernetes-validate --strict --kubernetes-version $$version deploy/kubernetes/*.yaml || exit 1; \
	done
	haproxy -c -q -f deploy/haproxy.cfg
	promtool check config deploy/prometheus/prometheus.yml
	promtool test rules deploy/prometheus/alerts_test.yml

## test-load: a few seconds of the load generator per transport; every request answered exactly once
test-load: plugins test-services
	cargo build -p berth -p berth-benches -p berth-peers --bin berth --bin berth-load --bin berth-floor --bin berth-peer --bin berth-chart --bin berth-floor-wasm
	benches/load-smoke.sh $(CARGO_TARGET_DIR)/debug/berth $(CARGO_TARGET_DIR)/debug/berth-load
	benches/compare.sh --smoke $(CARGO_TARGET_DIR)/debug

## scenarios: the load and chaos scenarios S1-S14 (short modes, ~20 min); results in .build/scenarios/
scenarios: plugins fixtures
	benches/scenarios.sh

## compare: berth beside the floor (axum, no MCP, no wasm), the floor with bare wasmtime calls, and the official Rust SDK, one interleaved run (~10 min)
compare: plugins
	benches/compare.sh

## test-conformance: the official MCP conformance suites (both eras) against a real berth
test-conformance: fixtures
	cargo build -p berth
	tests/conformance/run.sh $(CARGO_TARGET_DIR)/debug/berth

clean:
	rm -rf .build plugins/*.wasm

## bench: criterion benches (in-process dispatch, HTTP round trip); see BENCHMARKS.md
bench: plugins
	cargo bench -p berth-benches --bench dispatch

## fuzz-tools: the nightly toolchain and cargo-fuzz, installed if missing
fuzz-tools:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

## test-fuzz: a 20-second smoke run of the message fuzz target (the long run is `make fuzz`)
test-fuzz: fuzz-tools
	@mkdir -p .build/fuzz-corpus
	cd fuzz && cargo +nightly fuzz run message ../.build/fuzz-corpus corpus/message -- -max_total_time=20 -rss_limit_mb=2048 \
		> ../.build/fuzz-smoke.log 2>&1 || { tail -n 40 ../.build/fuzz-smoke.log; exit 1; }
	@grep -E '^Done|^#[0-9]+.*DONE' .build/fuzz-smoke.log | tail -n 1

## fuzz: fuzz the message path for FUZZ_SECONDS (default 600); results go in docs/fuzzing.md by hand
FUZZ_SECONDS ?= 600
fuzz: fuzz-tools
	@mkdir -p .build/fuzz-corpus
	cd fuzz && cargo +nightly fuzz run message ../.build/fuzz-corpus corpus/message -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048
