# syntax=docker/dockerfile:1
# ehpc-bridge image: one image for every process type (worker, beat, slack-app, simulator, flower);
# the Compose service's command picks which. Build: docker build -t ehpc-bridge .
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the pinned dependencies and the project, into a self-contained venv -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# requirements.lock pins every version (it is a full freeze, dev tools included); used as constraints, it
# pins what the runtime needs without installing pytest, mypy or ruff into the image.
COPY requirements.lock pyproject.toml README.md ./
COPY worker ./worker
COPY integrations ./integrations
RUN pip install --constraint requirements.lock ".[ops]" \
 && pip check

# --- final: the venv, a non-root user, nothing else --------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ehpc-bridge" \
      org.opencontainers.image.description="Alibaba Cloud E-HPC task notifications for Slack and ticketing tools" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 ehpc \
 && useradd --system --uid 10001 --gid ehpc --home-dir /app --create-home --shell /usr/sbin/nologin ehpc
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
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
