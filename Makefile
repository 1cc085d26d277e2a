# Outpost — the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift
# Debian packages the build, the tests and the demo need (installed by `make deps` when missing);
# nginx and openssl stand in as the TLS-terminating front of a receiver in the end-to-end tests.
DEB_PACKAGES := pkg-config libsnappy-dev libre2-dev prometheus victoria-metrics prometheus-node-exporter nginx-light openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The end-to-end benchmark also needs nginx (the targets' static server).
BENCH_PACKAGES := nginx-light
PROFILES ?= small large wide sweep

.PHONY: deps bench-deps build release run test test-e2e bench bench-e2e format lint clean

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build --product outpost

release: deps
	$(SWIFT) build -c release --product outpost

# Starts node_exporter, a Prometheus receiver and Outpost on loopback; Ctrl-C stops all three.
run: build
	scripts/run.sh "$$($(SWIFT) build --show-bin-path)/outpost"

# Unit tests and the end-to-end tests (real outpost binary, Prometheus, VictoriaMetrics' vmagent and
# node_exporter). Serial: the end-to-end suites time scrapes to the second, and on two cores
# several of them at once would starve each other.
# The test bundle is built by its product name: `build --build-tests` would also build every
# executable of every dependency, swift-protobuf's C++ protoc among them (minutes, unused).
test: deps
	$(SWIFT) build --product outpost
	$(SWIFT) build --product outpostPackageTests
	OUTPOST_BIN="$$($(SWIFT) build --show-bin-path)/outpost" $(SWIFT) test --skip-build --no-parallel

test-e2e: deps
	$(SWIFT) build --product outpost
	$(SWIFT) build --product outpostPackageTests
	OUTPOST_BIN="$$($(SWIFT) build --show-bin-path)/outpost" $(SWIFT) test --skip-build --no-parallel --filter EndToEndTests

bench-deps: deps
	@missing=""; \
	for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Benchmarks (relabel engine, parsing and the scrape path, WAL, and the end-to-end `small` profile
# against vmagent and the Prometheus agent), in release mode, in their own package; results land in
# bench/results/.
bench: release bench-deps
	cd Benchmarks && $(SWIFT) run -c release outpost-bench

# Outpost, vmagent and the Prometheus agent side by side on the same targets and sink, for each of
# PROFILES (small, large, wide, sweep); about 15 minutes per profile.
bench-e2e: release bench-deps
	cd Benchmarks && $(SWIFT) run -c release outpost-bench e2e $(PROFILES)

format:
	$(SWIFT) format --in-place --recursive --configuration .swift-format Sources Tests Package.swift

lint:
	$(SWIFT) format lint --strict --recursive --configuration .swift-format Sources Tests Package.swift

clean:
	rm -rf .build
