#ifndef RAG_CBLAS_SHIM_H
#define RAG_CBLAS_SHIM_H
#include <cblas.h>
#endif
