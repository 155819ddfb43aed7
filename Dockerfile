# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
# libpq and SQLite are bundled into the binary (no runtime packages needed for them).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
RUN cargo build --release --locked -p api

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hanko \
    && mkdir -p /app/data \
    && chown -R hanko:hanko /app
COPY --from=build /src/target/release/api /usr/local/bin/api
USER hanko
WORKDIR /app
# No config file in the image: configure with HANKO_* variables and DATABASE_URL.
ENV HANKO_SERVER__PUBLIC__ADDRESS=0.0.0.0:8000 \
    HANKO_SERVER__ADMIN__ADDRESS=0.0.0.0:8001
EXPOSE 8000 8001
ENTRYPOINT ["api"]
CMD ["serve"]
