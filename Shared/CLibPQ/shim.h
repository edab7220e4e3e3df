#ifndef RAG_CLIBPQ_SHIM_H
#define RAG_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
