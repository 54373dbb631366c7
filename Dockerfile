# The monitor daemon as a container: `monitor run`, JSON logs, state in /data,
# translation models in /models (mounted; see the README, "Running with Docker").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid (10001), above the range distributions give to host users, so that
# files the container writes in a mounted folder belong to no one on the host by
# accident, and so that `chown 10001 models` is the same instruction everywhere.
# The home folder is where argostranslate keeps its cache and settings.
RUN groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid monitor --home-dir /home/monitor \
       --create-home --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /models \
    && chown monitor:monitor /data /models

WORKDIR /app

# torch first, from PyTorch's CPU-only index and pinned to pyproject.toml's version:
# argostranslate -> stanza depends on torch, and the torch wheels on PyPI for Linux pull
# several GB of CUDA libraries that a CPU-only daemon never uses. Once this build is
# installed, `pip install .` finds `torch==2.13.0` satisfied (2.13.0+cpu matches it).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# The other dependencies in their own layer, built from pyproject.toml alone (with an
# empty package), so that editing the code does not download them again.
COPY pyproject.toml README.md ./
RUN mkdir monitor && touch monitor/__init__.py \
    && pip install . \
    && pip uninstall --yes monitor \
    && rm -rf monitor build monitor.egg-info

COPY monitor ./monitor
RUN pip install --no-deps . && rm -rf build monitor.egg-info
COPY config ./config

# Settings for the container (every MONITOR_<KEY> can be overridden at `docker run` /
# in docker-compose.yml): state and embedded store in the /data volume, models in
# /models, one JSON object per log line for `docker logs` and log shippers.
ENV MONITOR_CONFIG=/app/config/monitor.toml \
    MONITOR_DATA_DIR=/data \
    MONITOR_MODELS_DIR=/models \
    MONITOR_LOG_FORMAT=json

# /data is a volume (it must outlive the container). /models is meant to be mounted
# (a host folder with the Argos packages); it is not a volume of its own, so that an
# unmounted /models does not leave an anonymous volume behind at every `docker run`.
VOLUME /data

USER 10001:10001

# Healthy = the daemon's /healthz says ready (`monitor health`: exit 0, or 1 with the
# reasons, which `docker inspect` keeps). /healthz listens on 127.0.0.1 inside the
# container (http_host's default), where this check runs; nothing is published.
# Elasticsearch being down does not make it unhealthy: its writes wait in the outbox.
# Numbers (docs/choices.md): every 30 s, each check ~0.45 s of CPU (starting Python);
# timeout 10 s: `monitor health`'s own 5-s wait plus up to ~2 s to start Python on a
# busy machine, with room; unhealthy after 3 failures in a row (90 s), so one slow
# answer during a heavy translation batch does not flip it; start period 180 s: ready
# takes ~2 s, the worst start is an Elasticsearch that does not answer (4 tries of 30 s
# before the outbox takes over) plus loading the story index.
# The Kibana import runs beside the daemon and does not delay readiness.
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD monitor health || exit 1

CMD ["monitor", "run"]
