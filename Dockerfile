# Guardline API and sync worker (one image; the command chooses).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    GUARDLINE_ENV=production

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY services ./services
COPY migrations ./migrations
COPY openapi ./openapi
RUN pip install . \
    && useradd --system --uid 10001 --home /app guardline \
    && mkdir -p /app/.guardline && chown guardline /app/.guardline

USER guardline
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz').status == 200 else 1)"
# Runs migrations, then the API. Set GUARDLINE_DATABASE_URL to use a PostgreSQL server.
# Production (above) refuses the published demo keys: give GUARDLINE_AUTH__SECRET_KEY,
# GUARDLINE_DATA_PROTECTION__ID_HASH_KEY and __ENCRYPTION_KEYS / __ACTIVE_KEY.
CMD ["guardline", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
