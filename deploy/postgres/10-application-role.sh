#!/bin/sh
# Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d).
# The tables belong to POSTGRES_USER (guardline_owner, who runs the migrations); the API
# and the worker connect as guardline_app, which owns nothing: it cannot disable the audit
# table's triggers. `guardline grant-app guardline_app` (the migrate service) gives it its
# privileges on the tables once they exist.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$GUARDLINE_APP_PASSWORD" <<'EOSQL'
CREATE ROLE guardline_app LOGIN PASSWORD :'app_password';
GRANT CONNECT ON DATABASE guardline TO guardline_app;
EOSQL
