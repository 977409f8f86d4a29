# syntax=docker/dockerfile:1
#
# The rater worker image: `docker build -t rater .`, or `docker compose build` (docker-compose.yml).
#
#   docker run --rm rater catalog check /app/config    # any `rater` subcommand; the default is `worker`
#   docker run -e KAFKA_BOOTSTRAP=... -e REDIS_URL=... rater
#
# The worker's settings are environment variables, listed in streams/settings.py. The example catalog and
# subscriptions of config/ are baked in at /app/config (RATER_CONFIG); mount your own folder over
# /app/config, or point RATER_CONFIG elsewhere, to rate with a real catalog.
#
# Every dependency installs from a manylinux wheel, so the image needs no compiler.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the project and its runtime dependencies (no dev extras) in a virtualenv -------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/rater
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rater/ rater/
COPY streams/ streams/
COPY docs/openapi.yaml docs/openapi.yaml
RUN /opt/rater/bin/pip install .

# ---- runtime -------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="rater" \
      org.opencontainers.image.description="Streaming real-time usage rater (Kafka consumer-group worker + Redis)" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/rater/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RATER_CONFIG=/app/config

# An unprivileged user, whose home is the working directory. The worker writes nothing there: all rating
# state is in Redis (the default consumer creates no Faust app; with RATER_CONSUMER=faust, Faust's empty
# data folder goes to a temporary directory).
RUN groupadd --system --gid 10001 rater \
 && useradd --system --uid 10001 --gid rater --home-dir /var/lib/rater --create-home \
        --shell /usr/sbin/nologin rater

COPY --from=build /opt/rater /opt/rater
COPY config/ /app/config/
COPY docker/healthcheck.py /app/healthcheck.py

WORKDIR /var/lib/rater
USER rater:rater

# The check is that the `rater worker` process is running (docker/healthcheck.py). The worker's only
# HTTP endpoint is Prometheus /metrics, and only when RATER_METRICS_PORT is set (docker-compose.yml
# sets 9100); progress is consumer lag: rater_consumer_lag there, or on the Kafka side.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/healthcheck.py"]

ENTRYPOINT ["rater"]
CMD ["worker"]
