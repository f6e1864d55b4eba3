#!/usr/bin/env bash
# The message brokers the event-notification tests deliver to (issue 25): installs Debian's
# rabbitmq-server, nats-server and redis-server if missing (without starting the system
# services), then starts throwaway instances of our own on 127.0.0.1, on fixed ports outside
# the defaults and the ephemeral range, with all their state in one run dir:
#   RabbitMQ  amqp://guest:guest@127.0.0.1:27672/   (epmd on 27369, distribution on 27673)
#   NATS      nats://127.0.0.1:27422                 (JetStream on)
#   Redis     redis://127.0.0.1:27379/0
# scripts/broker-env.sh exports these URLs for the tests. Idempotent: an instance already
# answering is left alone.
#
#   bash scripts/ensure-brokers.sh            install, start what is not running, wait for all
#   bash scripts/ensure-brokers.sh --no-wait  install and start in the background, return at once
#                                             (`make test` starts RabbitMQ, the slow one, first
#                                             and waits later)
#   bash scripts/ensure-brokers.sh stop       stop our instances and remove the run dir
#   bash scripts/ensure-brokers.sh status     say which answer
#   bash scripts/ensure-brokers.sh rabbitmqctl ARGS...  rabbitmqctl on our node (the tests stop
#                                             and start its app to see a sender recover)
#
# OBJECTSTORE_TEST_BROKERS_DIR: the run dir (default /tmp/objectstore-test-brokers);
# OBJECTSTORE_TEST_BROKERS_WAIT: seconds to wait for all to answer (default 120).
set -euo pipefail

RUN_DIR="${OBJECTSTORE_TEST_BROKERS_DIR:-/tmp/objectstore-test-brokers}"
WAIT="${OBJECTSTORE_TEST_BROKERS_WAIT:-120}"
AMQP_PORT=27672
AMQP_DIST_PORT=27673
EPMD_PORT=27369
NATS_PORT=27422
REDIS_PORT=27379
RABBIT_BIN=/usr/lib/rabbitmq/bin
NODENAME=objectstore-test@localhost

log() { echo "ensure-brokers: $*" >&2; }

install_missing() {
  local missing=()
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || missing+=(rabbitmq-server)
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
  command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian's ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A policy-rc.d that denies keeps the packages' postinst from starting the system services
  # (ours run on other ports); an existing one (as in containers) is left as it is.
  local policy=/usr/sbin/policy-rc.d made=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made=1
  fi
  local rc=0
  { apt-get update -qq >/dev/null &&
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  if [ "$made" = 1 ]; then rm -f "$policy"; fi
  return "$rc"
}

# probe KIND:PORT...: prints those of them where our kind of broker does not answer (a real
# protocol exchange, 2 s at most each); exit status 0 when all answer. One Python for all.
probe() {
  python3 - "$@" <<'PY'
import socket, sys
down = []
for arg in sys.argv[1:]:
    kind, port = arg.split(":")
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as s:
            s.settimeout(2)
            if kind == "amqp":
                s.sendall(b"AMQP\x00\x00\x09\x01")
                want = b"RabbitMQ"
            elif kind == "redis":
                s.sendall(b"PING\r\n")
                want = b"+PONG"
            else:
                want = b"INFO "
            got = b""
            while want not in got and len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            if want not in got:
                down.append(arg)
    except OSError:
        down.append(arg)
print(" ".join(down))
sys.exit(1 if down else 0)
PY
}

port_taken() {
  python3 -c "
import socket, sys
s = socket.socket()
try:
    s.connect(('127.0.0.1', int(sys.argv[1])))
except OSError:
    sys.exit(1)
" "$1"
}

rabbit_env() {
  local d="$RUN_DIR/rabbitmq"
  export HOME="$d"  # the Erlang cookie lives there
  export RABBITMQ_NODENAME="$NODENAME"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
  export ERL_EPMD_PORT="$EPMD_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_LOGS="$d/log/rabbit.log"
  export RABBITMQ_PID_FILE="$d/rabbitmq.pid"
  # Erlang distribution (rabbitmqctl's way in) on loopback only.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# Is the RabbitMQ an earlier call started still there (booting)? Its pid file may be stale.
rabbit_booting() {
  local f="$RUN_DIR/rabbitmq/starting" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [ -n "$pid" ] && grep -qa rabbitmq "/proc/$pid/cmdline" 2>/dev/null
}

start_rabbitmq() {
  if probe "amqp:$AMQP_PORT" >/dev/null; then return 0; fi
  if rabbit_booting; then
    return 0  # started by an earlier call, still booting
  fi
  if port_taken "$AMQP_PORT"; then
    log "port $AMQP_PORT is taken by something that is not RabbitMQ"; return 1
  fi
  local d="$RUN_DIR/rabbitmq"
  rm -rf "$d"; mkdir -p "$d/log" "$d/mnesia"
  : >"$d/rabbitmq-env.conf"
  echo '[].' >"$d/enabled_plugins"
  echo '[].' >"$d/advanced.config"
  cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
disk_free_limit.absolute = 50MB
log.file.level = warning
EOF
  (
    rabbit_env
    cd "$d"
    # setsid: the broker outlives this script and is not in make's process group.
    setsid "$RABBIT_BIN/rabbitmq-server" >"$d/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$d/starting"
  )
}

start_nats() {
  if probe "nats:$NATS_PORT" >/dev/null; then return 0; fi
  if port_taken "$NATS_PORT"; then
    log "port $NATS_PORT is taken by something that is not NATS"; return 1
  fi
  local d="$RUN_DIR/nats" bin
  bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
  rm -rf "$d"; mkdir -p "$d/jetstream"
  setsid "$bin" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$d/jetstream" -P "$d/nats.pid" \
    -l "$d/nats.log" >/dev/null 2>&1 </dev/null &
}

start_redis() {
  if probe "redis:$REDIS_PORT" >/dev/null; then return 0; fi
  if port_taken "$REDIS_PORT"; then
    log "port $REDIS_PORT is taken by something that is not Redis"; return 1
  fi
  local d="$RUN_DIR/redis" bin
  bin="$(command -v redis-server || echo /usr/bin/redis-server)"
  rm -rf "$d"; mkdir -p "$d"
  "$bin" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$d" --daemonize yes \
    --pidfile "$d/redis.pid" --logfile "$d/redis.log" --save '' --appendonly no >/dev/null
}

wait_all() {
  local deadline=$((SECONDS + WAIT)) pending
  while :; do
    pending="$(probe "redis:$REDIS_PORT" "nats:$NATS_PORT" "amqp:$AMQP_PORT")" && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not answering after ${WAIT}s: $pending (logs under $RUN_DIR)"
      tail -n 20 "$RUN_DIR"/rabbitmq/log/*.log 2>/dev/null >&2 || true
      return 1
    fi
    # RabbitMQ's boot process gone means it failed: no point waiting.
    if [[ " $pending " == *" amqp:"* ]] && ! rabbit_booting; then
      log "RabbitMQ exited while starting (logs under $RUN_DIR/rabbitmq/log)"
      tail -n 20 "$RUN_DIR"/rabbitmq/log/*.log >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

stop_pidfile() {  # stop_pidfile FILE: SIGTERM, then SIGKILL after 15 s
  local f="$1" pid i
  [ -f "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop_all() {
  if [ -d "$RUN_DIR/rabbitmq" ]; then
    stop_pidfile "$RUN_DIR/rabbitmq/rabbitmq.pid"
    stop_pidfile "$RUN_DIR/rabbitmq/starting"
    # The epmd our node started on its own port (only ours: it listens on EPMD_PORT).
    ( rabbit_env; epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true )
  fi
  stop_pidfile "$RUN_DIR/nats/nats.pid"
  stop_pidfile "$RUN_DIR/redis/redis.pid"
  rm -rf "$RUN_DIR"
}

case "${1:-start}" in
  start|--no-wait)
    install_missing
    mkdir -p "$RUN_DIR"
    start_rabbitmq
    start_nats
    start_redis
    if [ "${1:-start}" != --no-wait ]; then wait_all; fi
    ;;
  stop) stop_all ;;
  status)
    rc=0
    down="$(probe "amqp:$AMQP_PORT" "nats:$NATS_PORT" "redis:$REDIS_PORT")" || rc=1
    for kind in amqp nats redis; do
      if [[ " $down " == *" $kind:"* ]]; then echo "$kind: down"; else echo "$kind: up"; fi
    done
    exit "$rc"
    ;;
  rabbitmqctl)
    shift
    rabbit_env
    exec "$RABBIT_BIN/rabbitmqctl" -n "$NODENAME" "$@"
    ;;
  *) echo "usage: $0 [start|--no-wait|stop|status|rabbitmqctl ARGS...]" >&2; exit 2 ;;
esac
