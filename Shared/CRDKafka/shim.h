#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// `rd_kafka_producev` is variadic and cannot be called from Swift; this fixed-arity
/// wrapper copies the payload and key (RD_KAFKA_MSG_F_COPY) and passes an opaque
/// pointer that the delivery report callback receives back.
static inline rd_kafka_resp_err_t crdkafka_produce(
    rd_kafka_t *rk, const char *topic, int32_t partition,
    const void *key, size_t key_len,
    const void *value, size_t value_len,
    void *msg_opaque)
{
    return rd_kafka_producev(
        rk,
        RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len),
        RD_KAFKA_V_OPAQUE(msg_opaque),
        RD_KAFKA_V_END);
}

/// Macro constants with casts, re-exported as typed constants Swift can import.
static const int32_t crdkafka_partition_unassigned = RD_KAFKA_PARTITION_UA;
static const int64_t crdkafka_offset_beginning = RD_KAFKA_OFFSET_BEGINNING;
static const int64_t crdkafka_offset_end = RD_KAFKA_OFFSET_END;
static const int crdkafka_purge_all = RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT;

#endif
