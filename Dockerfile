# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
# libpq and SQLite are bundled into the binary; at run time it needs only libssl (libpq's TLS).
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole repository (.dockerignore leaves out build output, dependencies and .env): the
# build fingerprints every text of its files that can hold a secret (crates/api/build.rs), so
# the image refuses those secrets off loopback as the server built anywhere else does.
COPY . .
# The registry and target caches survive between builds. A network that intercepts TLS can
# hand its CA bundle to cargo as the optional build secret `cacert`
# (docker build --secret id=cacert,src=/path/to/bundle.pem).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export CARGO_HTTP_CAINFO=/run/secrets/cacert; fi; \
    cargo build --release --locked -p api \
    && cp target/release/api /usr/local/bin/api

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hanko \
    && mkdir -p /app/data \
    && chown -R hanko:hanko /app
COPY --from=build /usr/local/bin/api /usr/local/bin/api
USER hanko
WORKDIR /app
# No config file in the image: configure with HANKO_* variables and DATABASE_URL. Both
# listeners bind all interfaces of the container; the server refuses to start unless
# HANKO_SERVER__ADMIN__API_KEY guards the admin one (docker-compose.yml publishes it on the
# host's loopback only).
ENV HANKO_SERVER__PUBLIC__ADDRESS=0.0.0.0:8000 \
    HANKO_SERVER__ADMIN__ADDRESS=0.0.0.0:8001
EXPOSE 8000 8001
ENTRYPOINT ["api"]
CMD ["serve"]
