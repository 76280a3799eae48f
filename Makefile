# Tessera: the two commands a newcomer needs are `make run` and `make test`.
# Every target installs and builds first when needed; turbo's cache keeps repeats quick.

PNPM_VERSION := 10.34.9
TOOLS        := $(CURDIR)/.tools

# The runtime: the version in .node-version. A machine whose `node` is of that major line runs its
# own; any other gets the pinned one in .tools/node (scripts/install-node, from the npm registry),
# first on the PATH of every recipe, so that pnpm, turbo, vitest, the apps and their children all
# run on it, and native addons are built against its headers.
# `make test NODE_VERSION=x.y.z` runs everything on another version (a supported line's).
NODE_VERSION := $(strip $(file < .node-version))
NODE_LINE    := $(firstword $(subst ., ,$(NODE_VERSION)))
ifeq ($(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null),$(NODE_LINE))
NODE_RUNTIME :=
else
NODE_RUNTIME := $(TOOLS)/node/bin/node
export PATH  := $(TOOLS)/node/bin:$(PATH)
export npm_config_nodedir := $(TOOLS)/node
endif
export PATH  := $(TOOLS)/node_modules/.bin:$(CURDIR)/node_modules/.bin:$(PATH)
export TURBO_TELEMETRY_DISABLED := 1
export DO_NOT_TRACK := 1

PNPM      := $(TOOLS)/node_modules/.bin/pnpm
INSTALLED := node_modules/.modules.yaml
MANIFESTS := package.json pnpm-lock.yaml pnpm-workspace.yaml $(wildcard packages/*/package.json apps/*/package.json)

# The ingestor's V8 options: stopped parse threads give their heaps back (Node 26 keeps them
# otherwise), and a small young generation (the feed's bytes pass through the main thread as
# short-lived Buffers; see docs/decisions.md, 10 and 11). APP_NODE_OPTIONS in packages/testkit is the table
# this, the Dockerfile and the tests follow (held to it by apps/e2e/test/launch-options.test.ts),
# and APP_ENVIRONMENT the environment: glibc's malloc keeping the API's large answers' memory,
# and the ingestor's threads sharing two malloc arenas.
INGESTOR := env MALLOC_ARENA_MAX=2 node --no-memory-pool-share-memory-on-teardown --max-semi-space-size=2 apps/ingestor/dist/main.js
API      := env MALLOC_MMAP_THRESHOLD_=8388608 MALLOC_TRIM_THRESHOLD_=67108864 node apps/api/dist/main.js
SIM      := node apps/provider-sim/dist/main.js

.PHONY: node-runtime install build run ingest api demo dev backup test test-docker test-kubernetes soak lint typecheck bench bench-runtimes audit licenses clean

# Checked by every target (quick when it is there); nothing to do on a machine of the right line.
node-runtime:
ifneq ($(NODE_RUNTIME),)
	@scripts/install-node $(TOOLS)/node $(NODE_VERSION)
endif

# pnpm is pinned and installed into .tools with npm: corepack is not needed.
$(PNPM): | node-runtime
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error pnpm@$(PNPM_VERSION)

# Native addons are built for one runtime's ABI (node_modules/.node-abi records which). After a
# change of runtime the install starts afresh: pnpm finds the lockfile satisfied and would keep
# the old builds, and `pnpm rebuild` skips the ones it has built before.
$(INSTALLED): $(PNPM) $(MANIFESTS) .node-version | node-runtime
	@abi=$$(node -p process.versions.modules); built=$$(cat node_modules/.node-abi 2>/dev/null); \
	  if [ -n "$$built" ] && [ "$$built" != "$$abi" ]; then \
	    echo "runtime changed (ABI $$built -> $$abi): installing afresh"; \
	    rm -rf node_modules packages/*/node_modules apps/*/node_modules; fi
	$(PNPM) install  # frozen automatically when CI=true
	@node -p process.versions.modules > node_modules/.node-abi
	@touch $(INSTALLED)

install: $(INSTALLED)

build: install
	turbo run build --output-logs=errors-only

# Runs NAME=COMMAND pairs together in the foreground, as one (scripts/together): Ctrl-C or
# SIGTERM stops them all; when one exits, the others are stopped and make exits with its status,
# after a line naming it.
TOGETHER := scripts/together

# Ingestor and API.
run: build
	@$(TOGETHER) ingestor='$(INGESTOR)' api='$(API)'

# One poll, a one-line summary, exit 0 on success.
ingest: build
	@$(INGESTOR) --once

api: build
	@$(API)

# A consistent, compacted copy of the store (LMDB's own copy) while the ingestor keeps running;
# DATA_DIR can point at the copy. See docs/operating.md.
backup: build
	@test -n "$(BACKUP_DIR)" || { echo "usage: make backup BACKUP_DIR=<new directory>" >&2; exit 2; }
	@$(INGESTOR) backup "$(BACKUP_DIR)"

# Simulator + ingestor + API: data on a machine without network (the ingestor's first poll may
# come before the simulator listens; it retries within a second).
demo: build
	@PROVIDER_URL=$${PROVIDER_URL:-http://127.0.0.1:$${SIM_PORT:-8080}/api/events} \
	  POLL_INTERVAL_MS=$${POLL_INTERVAL_MS:-5000} $(TOGETHER) provider-sim='$(SIM)' ingestor='$(INGESTOR)' api='$(API)'

# Rebuild and restart on change; polls the local simulator unless PROVIDER_URL says otherwise.
dev: install
	PROVIDER_URL=$${PROVIDER_URL:-http://127.0.0.1:$${SIM_PORT:-8080}/api/events} POLL_INTERVAL_MS=$${POLL_INTERVAL_MS:-5000} \
	  DATA_DIR=$${DATA_DIR:-$(CURDIR)/data} \
	  turbo run dev --concurrency=20

lint: install
	$(PNPM) lint

typecheck: build
	turbo run typecheck --output-logs=errors-only

# The Debian tools the tests drive for real (NATS JetStream for the cluster suites, nginx as a
# partner's web server, openssl for its throwaway CA, Prometheus and promtool for the alerting
# rules, Chromium for a browser's EventSource on /changes, h2load for the bench's fixed-rate load
# and its test), installed when missing, as `make bench` does for wrk. `command=package` where the two names differ. kubectl (the manifests' test renders them with its kustomize) comes with the
# machine: Debian does not package it.
TEST_TOOLS := nats-server nginx openssl promtool=prometheus chromium h2load=nghttp2-client

# Installs the Debian packages of the commands named as arguments when missing (needs root).
APT_INSTALL := bash -c 'missing=(); for tool in "$$@"; do command -v "$${tool%%=*}" >/dev/null || missing+=("$${tool\#*=}"); done; \
  [ $${\#missing[@]} -eq 0 ] && exit 0; \
  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null || { echo "please install: $${missing[*]}" >&2; exit 1; }; \
  apt-get install -y "$${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y "$${missing[@]}" >/dev/null; }' apt-install

# The same as `pnpm test`: Biome, then type-check and every vitest suite through turbo.
test: build
	@$(APT_INSTALL) $(TEST_TOOLS)
	$(PNPM) test

# Opt-in, not in .ci/run: builds the images and drives compose through the demo and the cluster
# profile (docker and compose, or ../shared/tools/compose where only compose v1 exists).
test-docker:
	bash scripts/test-docker

# Opt-in, not in .ci/run: the StatefulSet's pod under `podman kube play`, from images built by
# Docker (see docs/kubernetes.md).
test-kubernetes: build
	bash scripts/test-kubernetes

# The cluster-truth schedules, then the several-feeds cluster, on SEEDS fresh random seeds each
# (every seed printed), with a summary line each.
soak: build
	@$(APT_INSTALL) $(TEST_TOOLS)
	cd apps/e2e && TRUTH_SEEDS=random:$${SEEDS:-10} vitest run test/cluster-truth.test.ts -t 'seed'
	@cd apps/e2e && failed=0 && for i in $$(seq $${SEEDS:-10}); do \
	  seed=$$(od -An -N3 -tu4 /dev/urandom | tr -d ' '); \
	  if CLUSTER_FEEDS_SEED=$$seed vitest run test/cluster-feeds.test.ts > /dev/null 2>&1; \
	  then echo "cluster-feeds: CLUSTER_FEEDS_SEED=$$seed passed"; \
	  else echo "cluster-feeds: CLUSTER_FEEDS_SEED=$$seed FAILED"; failed=$$((failed + 1)); fi; \
	done && echo "cluster-feeds: $${SEEDS:-10} seeds, $$failed failed" && test $$failed -eq 0

# wrk (Debian) measures throughput with little CPU of its own; the cluster scenario runs NATS.
bench: build
	@$(APT_INSTALL) wrk $(TEST_TOOLS)
	$(PNPM) bench

# /search and ingestion figures of commits on Node.js versions (default: the last commit that ran
# on Node 20, on 20, 24 and the pinned line, then this one on the pinned line), each on its own
# install, one after another: the report's "Runtimes" section (scripts/bench-runtimes).
bench-runtimes: build
	@$(APT_INSTALL) wrk $(TEST_TOOLS)
	scripts/bench-runtimes $(RUNS)

# Known vulnerabilities in what the deployed apps run. A registry without an audit endpoint (this
# machine's answers 405) fails the target with one line: no answer is not a clean bill. Kept out of
# `make test`, whose verdict must depend on the code, not on the day's advisories.
audit: install
	@out=$$($(PNPM) audit --prod 2>&1); status=$$?; \
	if [ $$status -ne 0 ] && printf '%s' "$$out" | grep -q ERR_PNPM_AUDIT_BAD_RESPONSE; then \
	  echo "make audit: the registry's audit endpoint $$(printf '%s' "$$out" | grep -o 'responded with [0-9]*' | head -n 1): nothing was checked" >&2; \
	  exit 1; fi; \
	printf '%s\n' "$$out"; exit $$status

# The licences of the deployed apps' production dependencies, workspace packages' included
# (summarised in docs/runtime.md).
licenses: install
	@$(PNPM) --filter '@tessera/api...' --filter '@tessera/ingestor...' licenses list --prod

clean:
	rm -rf node_modules packages/*/node_modules apps/*/node_modules packages/*/dist apps/*/dist \
	  packages/*/reports apps/*/reports .turbo packages/*/.turbo apps/*/.turbo $(TOOLS)
