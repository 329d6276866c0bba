#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume: one role and database
# for daiban, one role and two databases (persistence, visibility) for Temporal. Each role owns
# its databases and can reach nothing else. Passwords come from deploy/.env.
set -eu

: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set}"

# psql variables (:'name') quote the passwords as SQL literals.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" \
    -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE ROLE daiban LOGIN PASSWORD :'app_password';
CREATE DATABASE daiban OWNER daiban;
REVOKE ALL ON DATABASE temporal, temporal_visibility, daiban FROM PUBLIC;
SQL
