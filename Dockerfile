# syntax=docker/dockerfile:1.7
# TaylorDash server image: the release binary on distroless (glibc, no shell, no package
# manager), running as an unprivileged user. Build:
#   docker build -t taylordash:local .          (or: docker compose build)
# The binary is built with the command CI and the README use: cargo build --release --locked.

ARG RUST_VERSION=1.95

# --- UI ---------------------------------------------------------------------------------------
# The web UI is built here from its sources with the same commands as CI (`npm ci`, then
# `npm run build`), rather than copying the committed web/dist: the image then depends only on
# sources, and CI already proves the committed build equals what these commands produce.
FROM node:22-bookworm-slim AS ui
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- Build --------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
# The binary embeds web/dist (crates/api/src/ui.rs), so it must be there before cargo runs.
COPY --from=ui /src/web/dist ./web/dist
# Caches keep the crate registry and the target folder between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p taylordash \
 && install -D -m 0755 target/release/taylordash /out/usr/local/bin/taylordash \
 && strip --strip-all /out/usr/local/bin/taylordash \
 && mkdir -p /out/data

# --- Runtime ------------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="TaylorDash" \
      org.opencontainers.image.description="Self-hosted mission control for home-lab projects" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/taylordash/taylordash" \
      org.opencontainers.image.documentation="https://github.com/taylordash/taylordash/blob/main/docs/operations.md"

COPY --from=build /out/usr/local/bin/taylordash /usr/local/bin/taylordash
# Data directory for the SQLite mode (`docker run -v taylordash-data:/data ...`); unused with
# DATABASE_URL. Owned by the runtime user (distroless `nonroot`, 65532).
COPY --from=build --chown=65532:65532 /out/data /data

ENV TAYLORDASH_BIND=0.0.0.0:8000 \
    TAYLORDASH_DATA_DIR=/data \
    TAYLORDASH_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8000
STOPSIGNAL SIGTERM
# Asks the running server's /health/ready (no curl in the image).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/taylordash", "healthcheck", "--timeout", "3"]
ENTRYPOINT ["/usr/local/bin/taylordash"]
CMD ["serve"]
