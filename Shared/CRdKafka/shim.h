#ifndef RAG_CRDKAFKA_SHIM_H
#define RAG_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Typed wrapper around the variadic rd_kafka_producev(), which Swift cannot call.
/// The key and value are copied (RD_KAFKA_MSG_F_COPY). On success librdkafka owns `headers`;
/// on failure the caller still owns and must destroy them.
static inline rd_kafka_resp_err_t rag_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                                    const void *key, size_t key_len,
                                                    const void *value, size_t value_len,
                                                    rd_kafka_headers_t *headers, void *opaque) {
    if (headers == NULL) {
        return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/// The partition value librdkafka uses for "let the partitioner choose".
static const int32_t RAG_KAFKA_PARTITION_UA = RD_KAFKA_PARTITION_UA;
/// rd_kafka_offset "not yet known" sentinel.
static const int64_t RAG_KAFKA_OFFSET_INVALID = RD_KAFKA_OFFSET_INVALID;
#endif
