# syntax=docker/dockerfile:1
# MoveHub's image: the gateway, the fleet shards' Ray workers and the one-shot jobs
# (`movehub bootstrap`, `movehub seed`) all run from it. Two stages: uv builds the virtual
# environment; the slim runtime gets the environment and the source, and runs as a user
# without privileges. Built for linux/amd64 and linux/arm64 by .github/workflows/ci.yml.

# ---- build: resolve and install the locked dependencies with uv -------------------------
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv>=0.5"
WORKDIR /app
# Dependencies first, in their own layer: a source change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY dispatch dispatch
COPY actors actors
COPY gateway gateway
COPY persistence persistence
COPY alembic.ini ./
RUN uv sync --frozen --no-dev

# ---- runtime: the environment and the source, nothing that built them --------------------
FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="movehub" \
      org.opencontainers.image.description="MoveHub: moving marketplace with real-time dispatch"
RUN groupadd --system --gid 10001 movehub \
 && useradd --system --uid 10001 --gid movehub --home-dir /app --shell /usr/sbin/nologin movehub
WORKDIR /app
COPY --from=build --chown=movehub:movehub /app /app
# Secure by default: an image run without real secrets refuses to start (persistence/config.py).
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 MOVEHUB_ENVIRONMENT=production
USER 10001:10001
EXPOSE 8000
# /healthz answers while the process serves; readiness (/readyz) is the orchestrator's probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["movehub", "serve", "--host", "0.0.0.0"]
