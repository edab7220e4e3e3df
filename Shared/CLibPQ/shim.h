#ifndef RAG_CLIBPQ_SHIM_H
#define RAG_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <postgres_ext.h>

/* PG_DIAG_* are character-literal macros, which Swift does not import: one accessor per field. */
static inline const char *rag_pq_result_sqlstate(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_SQLSTATE);
}
static inline const char *rag_pq_result_message(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
}
static inline const char *rag_pq_result_detail(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
}
static inline const char *rag_pq_result_hint(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
}
static inline const char *rag_pq_result_severity(const PGresult *res) {
    return PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
}
#endif
