#!/bin/bash
# Creates the livechat topics on Apache Kafka, idempotently; run by the one-shot `topics`
# service of docker-compose.yml (apache/kafka image, so the Kafka CLI tools are at hand).
#   topics.sh BOOTSTRAP REPLICATION_FACTOR MIN_INSYNC_REPLICAS
# A missing topic is created; an existing one gets its configuration set again and must
# have the expected partition count: the job never adds partitions, because that moves
# keys to other partitions and breaks per-key order (see docs/operations.md).
# The list below must match the topic table in docs/architecture.md
# (Tests/ops/check_compose.py checks it).
set -euo pipefail

bootstrap=${1:?usage: topics.sh BOOTSTRAP REPLICATION_FACTOR MIN_INSYNC_REPLICAS}
replication=${2:?usage: topics.sh BOOTSTRAP REPLICATION_FACTOR MIN_INSYNC_REPLICAS}
min_insync=${3:?usage: topics.sh BOOTSTRAP REPLICATION_FACTOR MIN_INSYNC_REPLICAS}
kafka=/opt/kafka/bin
week_ms=604800000
hour_ms=3600000

attempt=0
until "$kafka/kafka-topics.sh" --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then echo "topics: Kafka at $bootstrap did not answer" >&2; exit 1; fi
  echo "topics: waiting for Kafka at $bootstrap" >&2
  sleep 2
done

# topic NAME PARTITIONS CLEANUP_POLICY [short]
# Delete-policy topics keep a week; "short" ones (requests and replies, typing: nothing reads
# them later) an hour, in hourly segments, so little of an erased visitor lingers there.
topic() {
  local name=$1 partitions=$2 policy=$3 keep=${4:-}
  local config="cleanup.policy=$policy,min.insync.replicas=$min_insync"
  local args=(--config "cleanup.policy=$policy" --config "min.insync.replicas=$min_insync")
  if [ "$policy" = delete ] && [ "$keep" = short ]; then
    config="$config,retention.ms=$hour_ms,segment.ms=$hour_ms"
    args+=(--config "retention.ms=$hour_ms" --config "segment.ms=$hour_ms")
  elif [ "$policy" = delete ]; then
    config="$config,retention.ms=$week_ms"
    args+=(--config "retention.ms=$week_ms")
  fi

  "$kafka/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor "$replication" "${args[@]}" >/dev/null
  "$kafka/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type topics \
    --entity-name "$name" --add-config "$config" >/dev/null

  local actual
  actual=$("$kafka/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --topic "$name" \
    | sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p')
  if [ "$actual" != "$partitions" ]; then
    echo "topics: $name has ${actual:-no} partitions, expected $partitions; fix it by hand (docs/operations.md)" >&2
    exit 1
  fi
  echo "topics: $name ok ($partitions partitions, $policy, replication $replication, min.insync.replicas $min_insync)"
}

topic chat.commands 12 delete
topic chat.conversations 12 delete
topic presence.commands 6 delete
topic presence.agents 6 compact
topic presence.departments 3 compact
topic archive.queries 12 delete short
topic gateway.replies 3 delete short
topic router.changelog 12 compact
topic telephony.calls 6 delete
topic chat.signals 12 delete short
topic accounts.directory 6 compact
topic departments.settings 3 compact
topic visitors.contacts 1 compact

echo "topics: all present"
