/* Reads tests/vectors.txt (format in its header) into gb_vectors. Strict on
   purpose: anything it does not understand fails the load, with the file
   and line, so that a typo cannot quietly drop or change a vector. */
#include "vectors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

gb_vector gb_vectors[GB_VEC_MAX];
size_t gb_vectors_n;

/* What the file holds today; fewer means vectors went missing. */
static const size_t MIN_OF_KIND[GB_VEC_KINDS] = {28, 2, 31, 3, 2, 1};

static const char *const KINDS[GB_VEC_KINDS] = {"request", "refused-request", "reply",
                                                "refused-reply", "kv", "pair"};
/* op= names are the wire names of the one list of operations. */
static const struct {
    const char *name;
    int opcode;
} OPS[] = {
#define GB_OPERATION(NAME, OPCODE, ...) {#NAME, OPCODE},
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
};
static const char *const CODES[] = {"ERR",    "NOT_FOUND", "NAN", "MEM",
                                    "LOCKED", "OK",        "VAL", "KVAL"};
static const char *const ENCODINGS[] = {"PLAIN", "LZF", "NUMBER"};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int lookup(const char *const *names, int n, const char *s)
{
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* BYTES: printable ASCII, \xNN for any byte. */
static int unescape(const char *s, gb_vec_bytes *out)
{
    out->given = 1;
    out->len = 0;
    while (*s != '\0') {
        int c = (unsigned char)*s++, hi, lo;

        if (c == '\\') {
            /* The && stops at a NUL, so nothing past the string is read. */
            if (s[0] != 'x' || (hi = hex_digit(s[1])) < 0 || (lo = hex_digit(s[2])) < 0)
                return -1;
            c = hi * 16 + lo;
            s += 3;
        } else if (c <= ' ' || c > '~') {
            return -1;
        }
        if (out->len == sizeof out->b)
            return -1;
        out->b[out->len++] = (unsigned char)c;
    }
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* HEX: byte pairs; spaces only between bytes, at least one byte. */
static int parse_hex(const char *s, gb_vector *v)
{
    int hi = -1, d;

    for (; *s != '\0'; s++) {
        if (*s == ' ' && hi < 0)
            continue;
        if ((d = hex_digit((unsigned char)*s)) < 0)
            return -1;
        if (hi < 0) {
            hi = d;
        } else {
            if (v->wire_len == sizeof v->wire)
                return -1;
            v->wire[v->wire_len++] = (unsigned char)(hi * 16 + d);
            hi = -1;
        }
    }
    return hi < 0 && v->wire_len > 0 ? 0 : -1;
}

/* One field, tok=val. Outside requests, key= opens a pair and the next
   value= or number= is that pair's. */
static int set_field(gb_vector *v, const char *tok, const char *val)
{
    int request = v->kind == GB_VEC_REQUEST || v->kind == GB_VEC_REFUSED_REQUEST;
    gb_vec_pair *pair = !request && v->npairs > 0 ? &v->pairs[v->npairs - 1] : NULL;
    int64_t n;
    int i;

    if (strcmp(tok, "key") == 0) {
        if (request)
            return unescape(val, &v->key);
        if (v->npairs == GB_VEC_PAIRS)
            return -1;
        pair = &v->pairs[v->npairs++];
        pair->encoding = -1;
        return unescape(val, &pair->key);
    }
    if (strcmp(tok, "value") == 0 && pair != NULL) {
        if (pair->encoding != -1)
            return -1;
        pair->encoding = GB_ENC_PLAIN;
        return unescape(val, &pair->value);
    }
    if (strcmp(tok, "value") == 0)
        return unescape(val, &v->value);
    if (strcmp(tok, "number") == 0 && pair != NULL) {
        if (pair->encoding != -1)
            return -1;
        pair->encoding = GB_ENC_NUMBER;
        return parse_int(val, &pair->number);
    }
    if (strcmp(tok, "number") == 0) {
        v->number_given = 1;
        return parse_int(val, &v->number);
    }
    if (strcmp(tok, "has_number") == 0) {
        if (parse_int(val, &n) != 0 || (n != 0 && n != 1))
            return -1;
        v->has_number = (int)n;
        return 0;
    }
    if (strcmp(tok, "count") == 0) {
        if (parse_int(val, &n) != 0 || n < 0 || n > 0xffffffffLL)
            return -1;
        v->count = (long)n;
        return 0;
    }
    if (strcmp(tok, "op") == 0) {
        for (i = 0; i < COUNT_OF(OPS); i++)
            if (strcmp(OPS[i].name, val) == 0) {
                v->opcode = OPS[i].opcode;
                return 0;
            }
        return -1;
    }
    if (strcmp(tok, "code") == 0)
        return (v->code = lookup(CODES, COUNT_OF(CODES), val)) < 0 ? -1 : 0;
    if (strcmp(tok, "enc") == 0)
        return (v->encoding = lookup(ENCODINGS, COUNT_OF(ENCODINGS), val)) < 0 ? -1 : 0;
    if (strcmp(tok, "status") == 0) {
        for (i = GB_OK; i <= GB_ERR_NOMEM; i++)
            if (strcmp(gb_status_name((gb_status)i), val) == 0) {
                v->status = (gb_status)i;
                return 0;
            }
        return -1;
    }
    return -1;
}

/* One FIELD=VALUE token; left whole, so that an error can quote it. */
static int parse_field(gb_vector *v, char *tok)
{
    char *eq = strchr(tok, '=');
    int rc;

    if (eq == NULL)
        return -1;
    *eq = '\0';
    rc = set_field(v, tok, eq + 1);
    *eq = '=';
    return rc;
}

/* Each kind's fields are all there (the consumers then need not guess). */
static const char *incomplete(const gb_vector *v)
{
    size_t i;

    for (i = 0; i < v->npairs; i++)
        if (v->pairs[i].encoding == -1)
            return "a key= without its value= or number=";
    switch (v->kind) {
    case GB_VEC_REQUEST:
        return v->opcode < 0 ? "a request needs op=" : NULL;
    case GB_VEC_REFUSED_REQUEST:
        return v->opcode < 0 || v->status == GB_OK ? "needs op= and status=" : NULL;
    case GB_VEC_REPLY:
        if (v->wire_len < GB_REPLY_HEADER_SIZE)
            return "a reply is at least its 7-byte header";
        if (v->code < 0 || v->encoding < 0)
            return "a reply needs code= and enc=";
        if (v->code == GB_REPL_KVAL && v->count < 0)
            return "a KVAL reply needs count=";
        if (v->code == GB_REPL_VAL && v->encoding == GB_ENC_PLAIN && !v->value.given)
            return "a plain VAL reply needs value=";
        if (v->code == GB_REPL_VAL && v->encoding == GB_ENC_NUMBER && !v->number_given)
            return "a number VAL reply needs number=";
        return NULL;
    case GB_VEC_REFUSED_REPLY:
        if (v->wire_len < GB_REPLY_HEADER_SIZE)
            return "a reply is at least its 7-byte header";
        return v->status == GB_OK ? "needs status=" : NULL;
    case GB_VEC_KV:
        return v->count < 0 ? "kv needs count=" : NULL;
    case GB_VEC_PAIR:
        return v->npairs != 1 ? "pair needs one key= and its value" : NULL;
    case GB_VEC_KINDS:
        break;
    }
    return "unknown kind";
}

static int fail(const char *path, int line, const char *why, const char *what)
{
    fprintf(stderr, "%s:%d: %s%s%s\n", path, line, why, what != NULL ? ": " : "",
            what != NULL ? what : "");
    return -1;
}

/* One line: 0 (a vector read, or a comment or blank line), or -1. */
static int parse_line(char *line, const char *path, int lineno)
{
    char *start = line + strspn(line, " \t"), *colon, *tok;
    gb_vector *v;
    const char *why;
    int k;

    line[strcspn(line, "\r\n")] = '\0';
    if (*start == '\0' || *start == '#')
        return 0;
    if (gb_vectors_n == GB_VEC_MAX)
        return fail(path, lineno, "more vectors than GB_VEC_MAX", NULL);
    v = &gb_vectors[gb_vectors_n];
    memset(v, 0, sizeof *v);
    v->line = lineno;
    v->opcode = v->code = v->encoding = -1;
    v->count = -1;
    v->status = GB_OK;
    if ((colon = strstr(line, " : ")) == NULL)
        return fail(path, lineno, "no \" : \" before the bytes", NULL);
    *colon = '\0';
    if (parse_hex(colon + 3, v) != 0)
        return fail(path, lineno, "bad or too many hex bytes", colon + 3);
    if ((tok = strtok(line, " ")) == NULL || strlen(tok) >= sizeof v->name)
        return fail(path, lineno, "missing or too long name", tok);
    strcpy(v->name, tok);
    if (gb_vector_named(v->name) != NULL)
        return fail(path, lineno, "name used twice", v->name);
    if ((tok = strtok(NULL, " ")) == NULL || (k = lookup(KINDS, GB_VEC_KINDS, tok)) < 0)
        return fail(path, lineno, "missing or unknown kind", tok);
    v->kind = (gb_vec_kind)k;
    while ((tok = strtok(NULL, " ")) != NULL)
        if (parse_field(v, tok) != 0)
            return fail(path, lineno, "bad field", tok);
    if ((why = incomplete(v)) != NULL)
        return fail(path, lineno, why, v->name);
    gb_vectors_n++;
    return 0;
}

int gb_vectors_load(const char *path)
{
    char line[1024];
    FILE *f;
    int lineno = 0, rc = 0;

    gb_vectors_n = 0;
    if ((f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "%s: cannot open the protocol vectors: %s (the tests run from "
                "vendor/libgibsonclient)\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f))
            rc = fail(path, lineno, "line longer than the loader's buffer", NULL);
        else
            rc = parse_line(line, path, lineno);
    }
    if (rc == 0 && ferror(f))
        rc = fail(path, lineno, "read error", strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = fail(path, lineno, "close failed", strerror(errno));
    if (rc != 0)
        gb_vectors_n = 0; /* all or nothing: the count checks then fail too */
    return rc;
}

const gb_vector *gb_vector_named(const char *name)
{
    size_t i;

    for (i = 0; i < gb_vectors_n; i++)
        if (strcmp(gb_vectors[i].name, name) == 0)
            return &gb_vectors[i];
    return NULL;
}

size_t gb_vectors_of(gb_vec_kind kind)
{
    size_t i, n = 0;

    for (i = 0; i < gb_vectors_n; i++)
        n += gb_vectors[i].kind == kind;
    return n;
}

void gb_vector_blame(const gb_vector *v, long before)
{
    if (gb_test_check_failures != before)
        fprintf(stderr, "  in vector %s (%s:%d)\n", v->name, GB_VECTORS_PATH, v->line);
}

void gb_vectors_check_count(gb_vec_kind kind, size_t n)
{
    CHECK(n >= MIN_OF_KIND[kind]);
    if (n < MIN_OF_KIND[kind])
        fprintf(stderr, "  %s: %zu %s vectors checked, expected at least %zu\n",
                GB_VECTORS_PATH, n, KINDS[kind], MIN_OF_KIND[kind]);
}

void test_vectors_file(void)
{
    char name[16]; /* "R" and any int: no truncation warning at -O1 */
    int i;

    CHECK_INT(gb_vectors_load(GB_VECTORS_PATH), 0);
    for (i = 0; i < GB_VEC_KINDS; i++)
        gb_vectors_check_count((gb_vec_kind)i, gb_vectors_of((gb_vec_kind)i));
    /* Every vector of docs/protocol.md §12 by its name. */
    for (i = 1; i <= 27; i++) {
        snprintf(name, sizeof name, "Q%d", i);
        CHECK(gb_vector_named(name) != NULL);
    }
    for (i = 1; i <= 24; i++) {
        snprintf(name, sizeof name, "R%d", i);
        CHECK(gb_vector_named(name) != NULL);
    }
}
