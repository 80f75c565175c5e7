#!/usr/bin/env bash
# Runs once, when the compose warehouse's data volume is created (docker-entrypoint-initdb.d):
# the pipeline role `touchpoint` with no superuser rights, owning database `touchpoint`
# (docs/security.md). Its password comes from .env through TOUCHPOINT_DB_PASSWORD.
set -euo pipefail
: "${TOUCHPOINT_DB_PASSWORD:?TOUCHPOINT_DB_PASSWORD is not set: run make compose-env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="$TOUCHPOINT_DB_PASSWORD" <<'SQL'
create role touchpoint login nosuperuser nocreatedb nocreaterole noreplication nobypassrls
  password :'password';
create database touchpoint owner touchpoint;
SQL
