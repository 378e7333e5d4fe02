FROM python:3.11-slim
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY dispatch dispatch
COPY actors actors
COPY gateway gateway
COPY persistence persistence
COPY alembic.ini ./
RUN uv sync --frozen --no-dev && ln -s /app/.venv/bin/movehub /usr/local/bin/movehub
ENV PATH="/app/.venv/bin:$PATH"
# Secure by default: an image run without real secrets refuses to start (persistence/config.py).
ENV MOVEHUB_ENVIRONMENT=production
EXPOSE 8000
CMD ["movehub", "serve", "--host", "0.0.0.0"]
