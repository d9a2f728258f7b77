/*
 * The protocol vectors of tests/vectors.txt (its header describes the
 * format), read once by test_vectors_file() before the test groups run.
 * The file is the one copy shared with the fuzz corpus generator and
 * pygibson's Python tests, so these tests keep no vectors of their own.
 */
#ifndef GB_TEST_VECTORS_H
#define GB_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "gibson.h"

/* Relative to vendor/libgibsonclient, where `make check` runs the tests. */
#define GB_VECTORS_PATH "tests/vectors.txt"

/* Room for today's vectors with plenty to spare; a vector that does not fit
   is a load error, never a silent cut. */
enum { GB_VEC_NAME = 32, GB_VEC_BYTES = 64, GB_VEC_PAIRS = 8, GB_VEC_WIRE = 256,
       GB_VEC_MAX = 128 };

typedef enum gb_vec_kind {
    GB_VEC_REQUEST,
    GB_VEC_REFUSED_REQUEST,
    GB_VEC_REPLY,
    GB_VEC_REFUSED_REPLY,
    GB_VEC_KV,
    GB_VEC_PAIR,
    GB_VEC_KINDS
} gb_vec_kind;

typedef struct gb_vec_bytes {
    int given; /* 0: the field is absent, which a gb_request passes as NULL */
    size_t len;
    unsigned char b[GB_VEC_BYTES];
} gb_vec_bytes;

typedef struct gb_vec_pair {
    gb_vec_bytes key;
    int encoding; /* GB_ENC_PLAIN (value) or GB_ENC_NUMBER (number) */
    gb_vec_bytes value;
    int64_t number;
} gb_vec_pair;

typedef struct gb_vector {
    char name[GB_VEC_NAME];
    int line;
    gb_vec_kind kind;
    int opcode;            /* requests */
    gb_vec_bytes key;      /* requests */
    gb_vec_bytes value;    /* requests; a VAL reply's plain value */
    int64_t number;        /* requests; a VAL reply's number */
    int number_given;
    int has_number;
    gb_status status;      /* refusals */
    int code, encoding;    /* replies */
    long count;            /* KVAL replies and kv: -1 when not given */
    size_t npairs;
    gb_vec_pair pairs[GB_VEC_PAIRS];
    size_t wire_len;
    unsigned char wire[GB_VEC_WIRE];
} gb_vector;

extern gb_vector gb_vectors[GB_VEC_MAX];
extern size_t gb_vectors_n;

/* Read path into gb_vectors; 0, or -1 after saying why (file:line) on stderr. */
int gb_vectors_load(const char *path);
/* The vector of that name, or NULL. */
const gb_vector *gb_vector_named(const char *name);
/* How many vectors of that kind were read. */
size_t gb_vectors_of(gb_vec_kind kind);
/* A failed check unless n, the vectors of that kind a test went through,
   is at least what the file holds today: no test passes on zero vectors. */
void gb_vectors_check_count(gb_vec_kind kind, size_t n);
/* After a vector's checks: name it if any of them failed since `before`. */
void gb_vector_blame(const gb_vector *v, long before);

/* Loads GB_VECTORS_PATH and fails unless it holds at least today's vectors. */
void test_vectors_file(void);

#endif /* GB_TEST_VECTORS_H */
