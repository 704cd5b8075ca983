# ehpc-bridge image: one image for every process type (worker, beat, slack-app, simulator, Slack stand-in,
# flower); the Compose service's command picks which. Build: docker build -t ehpc-bridge .
#
# Builds with the legacy builder and with BuildKit alike, offline too: no `# syntax=` line (it makes
# BuildKit fetch a frontend image from a registry) and no BuildKit-only instruction.
# Behind a firewall, point the base image at a mirror and pip at a PyPI mirror, e.g.
#   docker build --build-arg PYTHON_IMAGE=<registry mirror>/library/python:3.11-slim \
#                --build-arg PIP_INDEX_URL=https://<pypi mirror>/simple/ .
# (Compose passes both from EHPC_PYTHON_IMAGE and PIP_INDEX_URL in .env.) Any Debian-based Python 3.11
# image with python3 and venv works: scripts/base-images.sh makes one locally from Debian's packages.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the pinned dependencies and the project, into a self-contained venv -------------------------
FROM ${PYTHON_IMAGE} AS build
# Empty = PyPI (or whatever the base image's pip configuration names).
ARG PIP_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# requirements.lock pins every version (it is a full freeze, dev tools included); used as constraints, it
# pins what the runtime needs without installing pytest, mypy or ruff into the image.
COPY requirements.lock pyproject.toml README.md ./
COPY worker ./worker
COPY integrations ./integrations
RUN if [ -z "$PIP_INDEX_URL" ]; then unset PIP_INDEX_URL; fi \
 && pip install --constraint requirements.lock ".[ops]" \
 && pip check

# --- final: the venv, a non-root user, nothing else --------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ehpc-bridge" \
      org.opencontainers.image.description="Alibaba Cloud E-HPC task notifications for Slack and ticketing tools" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 ehpc \
 && useradd --system --uid 10001 --gid ehpc --home-dir /app --create-home --shell /usr/sbin/nologin ehpc
COPY --from=build /opt/venv /opt/venv
# Executable in git (mode 100755): COPY keeps the mode, so no `COPY --chmod` (BuildKit only) is needed.
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EHPC_LOG_FORMAT=json \
    EHPC_METRICS_PORT=9808
WORKDIR /app
USER 10001:10001
EXPOSE 9808
# /healthz answers 200 only while Redis and the broker answer PING; urlopen raises (exit 1) on 503.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EHPC_METRICS_PORT', '9808'), timeout=4)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["ehpc-bridge", "worker"]
