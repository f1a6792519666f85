# Guardline API and sync worker (one image; the command chooses). Two stages: the builder
# installs the locked dependencies (requirements/runtime.txt, every file checked against its
# hash) and the project into a virtual environment; the runtime stage copies that
# environment alone, and runs as an unprivileged user. The embedded PostgreSQL (pgserver,
# the `embedded` extra) is not installed: the image always connects to
# GUARDLINE_DATABASE_URL (compose.yaml's PostgreSQL 16).

FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/guardline
WORKDIR /src
# The lock first: the dependencies' layer is rebuilt only when the lock changes.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN /opt/guardline/bin/pip install --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY services ./services
RUN /opt/guardline/bin/pip install --no-deps . \
    && /opt/guardline/bin/pip uninstall -y pip

FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/guardline/bin:$PATH \
    GUARDLINE_ENV=production

# `guardline backup` / `restore` run pg_dump and pg_restore: the client of the server's major
# version (compose.yaml's postgres:16), from PostgreSQL's own Debian repository (Debian's
# own client is older than the server).
ARG POSTGRES_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends postgresql-client-${POSTGRES_MAJOR} \
    && rm -rf /var/lib/apt/lists/*
ENV GUARDLINE_PG_BIN_DIR=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin

RUN useradd --system --uid 10001 --home /app guardline \
    && mkdir -p /app/.guardline /backups \
    && chown guardline /app/.guardline /backups
WORKDIR /app
COPY --from=builder /opt/guardline /opt/guardline
# What the migrations read at run time (services.core.migrate: alembic.ini, migrations/).
COPY alembic.ini ./
COPY migrations ./migrations
COPY openapi ./openapi

USER guardline
EXPOSE 8000
# The probe of the default command (the API). compose.yaml states it for its API service
# and turns it off for the worker and the one-shot migrations, which serve no HTTP.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3).status == 200 else 1)"
# Runs migrations, then the API. Set GUARDLINE_DATABASE_URL to its PostgreSQL server.
# Production (above) refuses the published demo keys: give GUARDLINE_AUTH__SECRET_KEY,
# GUARDLINE_DATA_PROTECTION__ID_HASH_KEY and __ENCRYPTION_KEYS / __ACTIVE_KEY.
CMD ["guardline", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
