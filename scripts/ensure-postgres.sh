#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests, starting the local
# cluster if one is installed but stopped. Prints which backend the tests will use.
set -u
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL: reachable on 127.0.0.1:5432"
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 20); do
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && { echo "PostgreSQL: started cluster $version/main"; exit 0; }
    sleep 0.5
  done
fi
echo "PostgreSQL: not available; the PostgreSQL tests will be skipped"
exit 1
