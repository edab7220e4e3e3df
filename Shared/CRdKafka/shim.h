#ifndef RAG_CRDKAFKA_SHIM_H
#define RAG_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
