# syntax=docker/dockerfile:1
# Clasp in a container: a release build, then a small Debian image running it
# as a non-root user, its data directory a volume, `clasp healthcheck` as the
# health check. Not built by the test suite: its machines have a docker
# client but no daemon to build with. See README, "Deploying".
#
#   docker build -t clasp .
#   docker run -p 8080:8080 -e CLASP_PUBLIC_URL=http://localhost:8080 -v clasp-data:/var/lib/clasp clasp

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p clasp \
 && strip target/release/clasp

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/clasp --shell /usr/sbin/nologin clasp \
 && install -d -o clasp -g clasp -m 0700 /var/lib/clasp
COPY --from=build /src/target/release/clasp /usr/local/bin/clasp
USER clasp
WORKDIR /var/lib/clasp
# Listening on every interface needs public_url: the URL clients reach the
# container at, which signed URLs point to (set it to yours).
ENV CLASP_DATA_DIR=/var/lib/clasp \
    CLASP_LISTEN=0.0.0.0:8080 \
    CLASP_ADMIN_LISTEN=0.0.0.0:9090 \
    CLASP_PUBLIC_URL=http://localhost:8080 \
    CLASP_LOG_FORMAT=json
VOLUME /var/lib/clasp
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=6s --start-period=10s --retries=3 CMD ["clasp", "healthcheck"]
ENTRYPOINT ["clasp"]
CMD ["serve"]
