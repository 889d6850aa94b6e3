# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml README.md alembic.ini ./
COPY gql ./gql
COPY db ./db
COPY migrations ./migrations
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim AS runtime
RUN groupadd --system omt && useradd --system --gid omt --home-dir /app --shell /usr/sbin/nologin omt
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY data ./data
ENV PATH=/opt/venv/bin:$PATH \
    OMT_ENV=production \
    OMT_HOST=0.0.0.0 \
    OMT_PORT=8000 \
    OMT_DATA_DIR=/app/.data \
    OMT_DEMO_CATALOG=/app/data/demo_catalog.jsonl \
    PYTHONUNBUFFERED=1
RUN mkdir -p /app/.data && chown -R omt:omt /app
USER omt
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["omnimediatrak", "serve"]
