#!/bin/sh
# One role and one database per service, each role owning only its own database: no service
# can read another's data. Run once by the postgres image on an empty data volume; the
# passwords come from the environment (compose: .env).
set -eu

for service in enrolment sessions notifications reporting credentials; do
  variable="YTS_DB_$(echo "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="$(printenv "$variable" || true)"
  if [ -z "$password" ]; then
    echo "$variable is not set: every service needs its database password" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
  echo "database and role $service created"
done
