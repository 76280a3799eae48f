# syntax=docker/dockerfile:1
# One multi-stage build for every Tessera process; pick one with --target (api, ingestor,
# provider-sim). Each final image holds only that app's production dependencies and runs as the
# unprivileged `node` user.

# The major line of .node-version, the runtime's one home (apps/e2e/test/runtime.test.ts holds this
# default to it); the image's Node is that line's newest.
ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-bookworm-slim AS build
# node-gyp builds against the headers the base image ships in /usr/local instead of downloading
# them from nodejs.org: the build needs nothing beyond the package registries.
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true npm_config_nodedir=/usr/local
# fs-ext (the store's writer lock, flock(2)) ships no prebuilt binary: node-gyp builds it here,
# against this image's Node and glibc, and the runtime image below is the same base.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# pnpm from npm, pinned: corepack's signature checks are not reliable everywhere.
RUN npm install -g pnpm@10.34.9
WORKDIR /src
# Dependencies first, from the lockfile alone, so that source edits keep this layer cached.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile \
 && pnpm exec turbo run build \
 && pnpm --filter @tessera/api deploy --prod --legacy /out/api \
 && pnpm --filter @tessera/ingestor deploy --prod --legacy /out/ingestor \
 && pnpm --filter @tessera/provider-sim deploy --prod --legacy /out/provider-sim

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# Node 26's binary links libatomic; a slim base need not carry it (the build stage gets it with g++).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libatomic1 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production DATA_DIR=/data
# The named volume copies this directory's ownership on first use.
RUN mkdir -p /data && chown node:node /data
WORKDIR /app
USER node
STOPSIGNAL SIGTERM

FROM runtime AS api
COPY --from=build --chown=node:node /out/api /app
ENV PORT=8000
# glibc keeps the memory of large answers rather than mapping fresh pages for each (see APP_ENVIRONMENT).
ENV MALLOC_MMAP_THRESHOLD_=8388608 MALLOC_TRIM_THRESHOLD_=67108864
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

FROM runtime AS ingestor
COPY --from=build --chown=node:node /out/ingestor /app
# Its threads share two malloc arenas (see APP_ENVIRONMENT).
ENV MALLOC_ARENA_MAX=2
# The V8 options the Makefile runs it with (see docs/decisions.md, 10 and 11).
CMD ["node", "--no-memory-pool-share-memory-on-teardown", "--max-semi-space-size=2", "dist/main.js"]

FROM runtime AS provider-sim
COPY --from=build --chown=node:node /out/provider-sim /app
ENV SIM_HOST=0.0.0.0 SIM_PORT=8080
EXPOSE 8080
CMD ["node", "dist/main.js"]
