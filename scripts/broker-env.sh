# Sourced by `make test` after scripts/ensure-brokers.sh: tells the tests where the throwaway
# brokers are. Tests that deliver to a broker fail (not skip) when its URL is set and it does
# not answer; without these variables they are skipped (e.g. `make test-sqlite`).
export OBJECTSTORE_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:27672/"
export OBJECTSTORE_TEST_NATS_URL="nats://127.0.0.1:27422"
export OBJECTSTORE_TEST_REDIS_URL="redis://127.0.0.1:27379/0"
