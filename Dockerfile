# syntax=docker/dockerfile:1
# docker build -t omnimediatrak .
# docker run -p 8000:8000 -v omt-data:/app/.data omnimediatrak          (embedded PostgreSQL in the volume)
# docker run -p 8000:8000 -e DATABASE_URL=postgresql://... omnimediatrak  (your own PostgreSQL >= 15)
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY gql ./gql
COPY db ./db
COPY migrations ./migrations
# A regular (non-editable) install: migrations and GraphiQL's assets must come along as package data.
RUN /opt/venv/bin/pip install . \
    && cd / \
    && /opt/venv/bin/python -c "import gql.app as a, db.migrate as m; assert (a.STATIC_DIR / 'graphiql' / 'graphiql.min.js').is_file(); assert m.head_revision()"

FROM python:3.11-slim AS runtime
RUN groupadd --system omt && useradd --system --gid omt --home-dir /app --shell /usr/sbin/nologin omt
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY data ./data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMT_ENV=production \
    OMT_HOST=0.0.0.0 \
    OMT_PORT=8000 \
    OMT_DATA_DIR=/app/.data \
    OMT_DEMO_CATALOG=/app/data/demo_catalog.jsonl
# Only the data dir is writable by the app user; the code and the catalog stay root-owned.
RUN mkdir -p /app/.data && chown omt:omt /app/.data
VOLUME ["/app/.data"]
USER omt
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# On SIGTERM the server drains requests for up to 10 s, then stops PostgreSQL: allow it more than
# Docker's default 10 s (docker stop -t 30, compose stop_grace_period: 30s).
STOPSIGNAL SIGTERM
CMD ["omnimediatrak", "serve"]
