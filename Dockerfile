# syntax=docker/dockerfile:1.7
# TaylorDash server image: the release binary on distroless (glibc, no shell, no package
# manager), running as an unprivileged user. Build:
#   docker build -t taylordash:local .          (or: docker compose build)
# For amd64 and arm64 at once (docs/operations.md, "Build and publish the image"):
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/taylordash:VERSION --push .
# The binary is built with the command CI and the README use: cargo build --release --locked.
# The build stages run on the builder's own platform and cross-compile for the target one
# (no emulation: an emulated arm64 Rust build takes hours).

ARG RUST_VERSION=1.95

# --- UI ---------------------------------------------------------------------------------------
# The web UI is built here from its sources with the same commands as CI (`npm ci`, then
# `npm run build`), rather than copying the committed web/dist: the image then depends only on
# sources, and CI already proves the committed build equals what these commands produce.
FROM --platform=$BUILDPLATFORM node:26-bookworm-slim AS ui
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- Build --------------------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETARCH
ARG BUILDARCH
# The Rust target of the image's platform and, when it is not the builder's own, the C
# cross-compiler (SQLite and ring are C) with its linker and strip; the native gcc already
# answers to the target-prefixed names.
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-gnu > /rust-target; gcc=gcc-x86-64-linux-gnu ;; \
      arm64) echo aarch64-unknown-linux-gnu > /rust-target; gcc=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported platform: $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "$gcc" \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rustup target add "$(cat /rust-target)"
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
# The commit `--version` and `taylordash_build_info` report ("unknown" without it).
ARG REVISION=unknown
ENV TAYLORDASH_COMMIT=${REVISION}
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
    target=$(cat /rust-target) \
 && cargo build --release --locked -p taylordash --target "$target" \
 && install -D -m 0755 "target/$target/release/taylordash" /out/usr/local/bin/taylordash \
 && "${target%%-unknown-*}-linux-gnu-strip" --strip-all /out/usr/local/bin/taylordash \
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
