# Sourced by `make test`: tells the tests where PostgreSQL's binaries are.
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then export OBJECTSTORE_TEST_PG_BIN="$d"; break; fi
done
