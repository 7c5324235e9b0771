#!/bin/bash
# Entry point of the livechat image: `entrypoint.sh <gateway|router|presence|archiver> [args]`.
#
# Each running instance needs a store of its own and a unique, stable instance id. With
# `docker compose up --scale router=3` every replica mounts the same named volume
# (/var/lib/livechat/<service>), so this wrapper hands out stores in it as numbered slots:
# it takes the lowest slot N whose lock no other instance holds (flock on
# <volume>/N/lock, held by the service process for as long as it runs and released by the
# kernel when it exits), then runs the service with
#   CHAT_DATA_DIR=/var/lib/livechat/<service>/N   and   CHAT_INSTANCE_ID=<service>-N.
# A replica restarted or recreated (upgrade) finds its slot free again and keeps its store,
# its offsets and its consumer-group member id.
#
# CHAT_DATA_DIR set explicitly: used as is, no slot (one instance per directory);
# CHAT_INSTANCE_ID then defaults to the container hostname. An explicit CHAT_INSTANCE_ID
# always wins.
set -euo pipefail

# One line on stderr, as JSON when the services log JSON (messages hold no quotes).
say() {
  if [ "${CHAT_LOG_FORMAT:-text}" = json ]; then
    printf '{"label":"entrypoint","level":"%s","message":"%s","time":"%s"}\n' "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" >&2
  else
    echo "entrypoint: $2" >&2
  fi
}
usage() { say error "usage: entrypoint.sh gateway|router|presence|archiver [arguments]"; exit 2; }
[ $# -ge 1 ] || usage
service=$1
shift
case "$service" in
  gateway|router|presence|archiver) ;;
  *) usage ;;
esac

if [ -z "${CHAT_DATA_DIR:-}" ]; then
  volume="/var/lib/livechat/$service"
  if [ ! -w "$volume" ]; then
    say error "$volume is missing or not writable by $(id -un); mount the service volume there"
    exit 1
  fi
  slot=1
  while :; do
    mkdir -p "$volume/$slot"
    exec 9>>"$volume/$slot/lock"
    if flock --nonblock 9; then break; fi
    exec 9>&-
    slot=$((slot + 1))
    if [ "$slot" -gt 64 ]; then
      say error "no free store slot under $volume (64 instances hold one)"
      exit 1
    fi
  done
  # fd 9 stays open across exec: the service process now holds the slot's lock.
  export CHAT_DATA_DIR="$volume/$slot"
  export CHAT_INSTANCE_ID="${CHAT_INSTANCE_ID:-$service-$slot}"
else
  export CHAT_INSTANCE_ID="${CHAT_INSTANCE_ID:-$HOSTNAME}"
fi

say info "starting $service as $CHAT_INSTANCE_ID with store $CHAT_DATA_DIR"
exec "/usr/local/bin/$service" "$@"
