/*
 * test_status — the C API's status codes, from C: bad arguments and malformed blobs.
 *
 *   test_status MODEL.dpl
 *
 * MODEL.dpl is a valid blob (the int8 example model). Every case calls the API the way a C
 * caller could get it wrong and checks the exact status: NULL pointers, engine memory too small
 * or misaligned, lengths past the address space, overlapping buffers, bad handles, indices out
 * of range, wrong dtypes and sizes, arena too small or misaligned, a blob changed behind a bound
 * engine (dp_verify), and a blob broken in each of
 * its classes (header, tensor records, graph I/O, op records; the CRC is recomputed so the rule
 * behind it is reached). Every code the header defines must have its own static message.
 * (All 38 blob codes are produced one by one by the capi crate's Rust tests, through the same
 * functions.)
 *
 * status_list.h (generated from doppler.h by test.sh) lists every status name: X(DP_ERR_...).
 * Prints one line per case and a closing "N passed, N failed" line; exits 1 on any failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doppler.h"

static int passed, failed;
static int seen[1000]; /* seen[-code]: the code came out of some case */

static void check_status(const char *what, int32_t got, int32_t want) {
    if (got < 0 && got > -1000) seen[-got] = 1;
    if (got == want) {
        passed++;
        printf("ok    %-44s %5d  %s\n", what, (int)got, dp_status_str(got));
    } else {
        failed++;
        printf("FAIL  %-44s got %d (%s), want %d (%s)\n", what, (int)got, dp_status_str(got), (int)want,
               dp_status_str(want));
    }
}

static void check(const char *what, int ok) {
    if (ok) {
        passed++;
        printf("ok    %s\n", what);
    } else {
        failed++;
        printf("FAIL  %s\n", what);
    }
}

/* ---- blob access (little-endian, as the format is) ------------------------------------------ */

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff;
    p[1] = v >> 8 & 0xff;
    p[2] = v >> 16 & 0xff;
    p[3] = v >> 24;
}

/* CRC-32 (IEEE 802.3, as zlib) of bytes [12, len): what the header's crc32 field holds. */
static void fix_crc(unsigned char *b, size_t len) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 12; i < len; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
    }
    wr32(b + 8, ~crc);
}

enum { S_TENSORS, S_OPS, S_INPUTS, S_OUTPUTS, S_INDICES, S_PARAMS, S_DATA };
#define SEC_OFF(b, s) rd32((b) + 32 + 8 * (s))
#define SEC_CNT(b, s) rd32((b) + 32 + 8 * (s) + 4)
#define TENSOR(b, t) ((b) + SEC_OFF(b, S_TENSORS) + 48 * (size_t)(t))
#define OP(b, o) ((b) + SEC_OFF(b, S_OPS) + 32 * (size_t)(o))
/* Tensor record: dtype u8 @0, kind u8 @1 (1 = constant), rank u8 @2, dims u32[4] @4,
 * offset @20, bytes @24, scale f32 @28, zero point @32, first @36, last @40. */

static unsigned char *good;     /* the valid blob, 16-byte aligned */
static size_t good_len;
static unsigned char *work;     /* a copy to break, 16-byte aligned, good_len + 32 bytes */
static unsigned char *arena;    /* 16-byte aligned, arena_len + 64 bytes */
static size_t arena_len;
static dp_engine_storage engine_mem;

static int32_t init_with(const unsigned char *blob, size_t len) {
    dp_engine *e = (dp_engine *)&engine_mem; /* must become NULL on failure */
    int32_t s = dp_init(&engine_mem, sizeof engine_mem, blob, len, arena, arena_len + 64, &e);
    if ((s == DP_OK) != (e != NULL)) {
        failed++;
        printf("FAIL  dp_init returned %d but *out is %p\n", (int)s, (void *)e);
    }
    return s;
}

/* Index of the first tensor with kind `kind` (0 activation, 1 constant) and, if dtype > 0, that
 * dtype. */
static uint32_t find_tensor(const unsigned char *b, int kind, int dtype) {
    for (uint32_t t = 0; t < SEC_CNT(b, S_TENSORS); t++) {
        const unsigned char *r = TENSOR(b, t);
        if (r[1] == kind && (dtype <= 0 || r[0] == dtype)) return t;
    }
    fprintf(stderr, "test_status: the model has no tensor of kind %d dtype %d\n", kind, dtype);
    exit(2);
}

static void reset(void) { memcpy(work, good, good_len); }

static void blob_case(const char *what, int32_t want) {
    fix_crc(work, good_len);
    check_status(what, init_with(work, good_len), want);
    size_t n = 0;
    check_status("  ... and dp_arena_size", dp_arena_size(work, good_len, &n), want);
}

static void blob_cases(void) {
    /* ---- -1xx: the blob as a whole */
    check_status("blob: valid", init_with(good, good_len), DP_OK);
    check_status("blob: one byte short", init_with(good, good_len - 1), DP_ERR_TRUNCATED);
    reset();
    memset(work + good_len, 0, 16);
    check_status("blob: 16 bytes too long", init_with(work, good_len + 16), DP_ERR_TRAILING_BYTES);
    reset();
    work[0] ^= 1;
    check_status("blob: magic", init_with(work, good_len), DP_ERR_BAD_MAGIC);
    reset();
    work[4] = 2; /* version_major */
    check_status("blob: format version 2", init_with(work, good_len), DP_ERR_UNSUPPORTED_VERSION);
    reset();
    work[good_len - 1] ^= 0x80;
    check_status("blob: last byte flipped", init_with(work, good_len), DP_ERR_BAD_CHECKSUM);
    memmove(work + 4, good, good_len);
    check_status("blob: at address + 4", init_with(work + 4, good_len), DP_ERR_BLOB_MISALIGNED);
    reset();
    wr32(work + 16, 1); /* flags */
    blob_case("blob: header flags", DP_ERR_BAD_HEADER);
    reset();
    wr32(work + 32 + 4, 0xffffffffu); /* tensors section count */
    blob_case("blob: tensor section count", DP_ERR_SECTION_OUT_OF_BOUNDS);
    reset();
    wr32(work + 32, SEC_OFF(good, S_TENSORS) + 4);
    blob_case("blob: tensor section offset + 4", DP_ERR_SECTION_MISALIGNED);

    /* ---- -2xx: tensor records */
    uint32_t act = find_tensor(good, 0, 0), cst = find_tensor(good, 1, 0), q = find_tensor(good, 0, DP_DTYPE_INT8);
    uint32_t arena_planned = rd32(good + 20), data_len = SEC_CNT(good, S_DATA);
    reset();
    TENSOR(work, 0)[0] = 0;
    blob_case("tensor 0: dtype 0", DP_ERR_BAD_TENSOR_TYPE);
    reset();
    TENSOR(work, 0)[2] = 0;
    blob_case("tensor 0: rank 0", DP_ERR_BAD_SHAPE);
    reset();
    wr32(TENSOR(work, 0) + 24, rd32(TENSOR(good, 0) + 24) + 16);
    blob_case("tensor 0: bytes + 16", DP_ERR_BAD_TENSOR_SIZE);
    reset();
    wr32(TENSOR(work, cst) + 20, (data_len + 15) & ~15u);
    blob_case("constant: offset past the data section", DP_ERR_CONSTANT_OUT_OF_BOUNDS);
    reset();
    wr32(TENSOR(work, cst) + 20, rd32(TENSOR(good, cst) + 20) + 4);
    blob_case("constant: offset + 4", DP_ERR_TENSOR_MISALIGNED);
    reset();
    wr32(TENSOR(work, act) + 20, (arena_planned + 15) & ~15u);
    blob_case("activation: offset past the arena", DP_ERR_ACTIVATION_OUT_OF_ARENA);
    reset();
    wr32(TENSOR(work, q) + 28, 0); /* scale 0.0f */
    blob_case("int8 tensor: scale 0", DP_ERR_BAD_QUANTIZATION);
    reset();
    wr32(TENSOR(work, cst) + 36, 1);
    blob_case("constant: with a lifetime", DP_ERR_BAD_LIFETIME);

    /* ---- -3xx: graph inputs and outputs */
    uint32_t in_at = SEC_OFF(good, S_INPUTS);
    reset();
    wr32(work + in_at, SEC_CNT(good, S_TENSORS));
    blob_case("graph input 0: no such tensor", DP_ERR_IO_INDEX_OUT_OF_RANGE);
    reset();
    wr32(work + in_at, cst);
    blob_case("graph input 0: a constant", DP_ERR_BAD_IO);
    reset();
    wr32(work + 32 + 8 * S_INPUTS + 4, 0);
    blob_case("graph: no inputs", DP_ERR_EMPTY_GRAPH);

    /* ---- -4xx: op records */
    reset();
    OP(work, 0)[0] = 0xe7; /* opcode 999 */
    OP(work, 0)[1] = 0x03;
    blob_case("op 0: opcode 999", DP_ERR_UNKNOWN_OPCODE);
    reset();
    OP(work, 0)[3] = 0; /* n_outputs */
    blob_case("op 0: no outputs", DP_ERR_BAD_ARITY);
    reset();
    wr32(OP(work, 0) + 4, SEC_CNT(good, S_INDICES)); /* io_start */
    blob_case("op 0: tensor list past the index section", DP_ERR_TENSOR_INDEX_OUT_OF_RANGE);
    reset();
    wr32(OP(work, 0) + 12, SEC_CNT(good, S_PARAMS) + 16); /* params_offset */
    blob_case("op 0: params past the params section", DP_ERR_BAD_PARAMS_LENGTH);
}

static void argument_cases(void) {
    size_t n = 0, planned = 0;
    size_t esize = dp_engine_size();
    dp_engine *e = NULL;
    check_status("dp_arena_size", dp_arena_size(good, good_len, &planned), DP_OK);
    check("dp_arena_size: the header's planned size", planned == arena_len);
    check("dp_engine_size() <= DP_ENGINE_MAX_SIZE", esize > 0 && esize <= DP_ENGINE_MAX_SIZE);
    check("sizeof(dp_engine_storage) == DP_ENGINE_MAX_SIZE", sizeof(dp_engine_storage) == DP_ENGINE_MAX_SIZE);

    /* ---- -7xx: C arguments */
    check_status("dp_arena_size: blob NULL", dp_arena_size(NULL, good_len, &n), DP_ERR_NULL_POINTER);
    check_status("dp_arena_size: out NULL", dp_arena_size(good, good_len, NULL), DP_ERR_NULL_POINTER);
    check_status("dp_init: out NULL", dp_init(&engine_mem, esize, good, good_len, arena, arena_len, NULL),
                 DP_ERR_NULL_POINTER);
    check_status("dp_init: engine_mem NULL", dp_init(NULL, esize, good, good_len, arena, arena_len, &e),
                 DP_ERR_NULL_POINTER);
    check("dp_init failed: *out is NULL", e == NULL);
    check_status("dp_init: blob NULL", dp_init(&engine_mem, esize, NULL, good_len, arena, arena_len, &e),
                 DP_ERR_NULL_POINTER);
    check_status("dp_init: arena NULL", dp_init(&engine_mem, esize, good, good_len, NULL, arena_len, &e),
                 DP_ERR_NULL_POINTER);
    check_status("dp_init: engine_mem_len = size - 1",
                 dp_init(&engine_mem, esize - 1, good, good_len, arena, arena_len, &e), DP_ERR_ENGINE_MEM_TOO_SMALL);
    unsigned char *raw = aligned_alloc(16, 2 * DP_ENGINE_MAX_SIZE);
    check_status("dp_init: engine_mem at address + 8",
                 dp_init(raw + 8, esize, good, good_len, arena, arena_len, &e), DP_ERR_ENGINE_MEM_MISALIGNED);
    const void *near_end = (const void *)(UINTPTR_MAX - 15);
    check_status("dp_init: blob + len past the address space",
                 dp_init(&engine_mem, esize, near_end, 32, arena, arena_len, &e), DP_ERR_BAD_LENGTH);
    check_status("dp_init: blob_len > PTRDIFF_MAX",
                 dp_init(&engine_mem, esize, good, (size_t)PTRDIFF_MAX + 1, arena, arena_len, &e), DP_ERR_BAD_LENGTH);
    check_status("dp_arena_size: blob + len past the address space", dp_arena_size(near_end, 32, &n),
                 DP_ERR_BAD_LENGTH);
    check_status("dp_init: arena over the blob", dp_init(&engine_mem, esize, work, good_len, work, good_len, &e),
                 DP_ERR_OVERLAP);
    check_status("dp_init: engine memory inside the arena",
                 dp_init(arena + 16, esize, good, good_len, arena, arena_len, &e), DP_ERR_OVERLAP);

    /* ---- -6xx: binding */
    check_status("dp_init: arena one byte short",
                 dp_init(&engine_mem, esize, good, good_len, arena, arena_len - 1, &e), DP_ERR_ARENA_TOO_SMALL);
    check_status("dp_init: arena at address + 4",
                 dp_init(&engine_mem, esize, good, good_len, arena + 4, arena_len, &e), DP_ERR_ARENA_MISALIGNED);

    /* ---- a valid engine, then bad calls on it */
    check_status("dp_init: valid", dp_init(&engine_mem, sizeof engine_mem, good, good_len, arena, arena_len, &e), DP_OK);
    check("dp_init: *out is the engine memory", (void *)e == (void *)&engine_mem);
    size_t ni = dp_input_count(e), no = dp_output_count(e);
    check("dp_input_count, dp_output_count >= 1", ni >= 1 && no >= 1);
    dp_tensor_desc d;
    check_status("dp_input_desc(e, 0)", dp_input_desc(e, 0, &d), DP_OK);
    check("input 0 is int8 (test model)", d.dtype == DP_DTYPE_INT8 && d.rank >= 1 && d.bytes > 0);
    check("dp_input_data is 16-byte aligned", dp_input_data(e, 0) && ((uintptr_t)dp_input_data(e, 0) & 15) == 0);
    check_status("dp_input_desc(e, count)", dp_input_desc(e, ni, &d), DP_ERR_INDEX_OUT_OF_RANGE);
    check_status("dp_output_desc(e, count)", dp_output_desc(e, no, &d), DP_ERR_INDEX_OUT_OF_RANGE);
    check_status("dp_input_desc(e, SIZE_MAX)", dp_input_desc(e, SIZE_MAX, &d), DP_ERR_INDEX_OUT_OF_RANGE);
    check_status("dp_input_desc: out NULL", dp_input_desc(e, 0, NULL), DP_ERR_NULL_POINTER);
    check_status("dp_output_desc: engine NULL", dp_output_desc(NULL, 0, &d), DP_ERR_NULL_POINTER);
    check("dp_input_data(e, count) is NULL", dp_input_data(e, ni) == NULL);
    check("dp_output_data(e, count) is NULL", dp_output_data(e, no) == NULL);
    check("dp_input_data(NULL, 0) is NULL", dp_input_data(NULL, 0) == NULL);
    check("dp_input_count(NULL) is 0", dp_input_count(NULL) == 0 && dp_output_count(NULL) == 0);

    dp_input_desc(e, 0, &d);
    unsigned char *buf = calloc(1, d.bytes + 1);
    check_status("dp_set_input: valid", dp_set_input(e, 0, DP_DTYPE_INT8, buf, d.bytes), DP_OK);
    check_status("dp_set_input: index = count", dp_set_input(e, ni, DP_DTYPE_INT8, buf, d.bytes),
                 DP_ERR_INDEX_OUT_OF_RANGE);
    check_status("dp_set_input: float32 data", dp_set_input(e, 0, DP_DTYPE_FLOAT32, buf, d.bytes), DP_ERR_WRONG_DTYPE);
    check_status("dp_set_input: dtype 0", dp_set_input(e, 0, 0, buf, d.bytes), DP_ERR_WRONG_DTYPE);
    check_status("dp_set_input: one byte short", dp_set_input(e, 0, DP_DTYPE_INT8, buf, d.bytes - 1), DP_ERR_WRONG_SIZE);
    check_status("dp_set_input: one byte too many", dp_set_input(e, 0, DP_DTYPE_INT8, buf, d.bytes + 1),
                 DP_ERR_WRONG_SIZE);
    check_status("dp_set_input: src NULL", dp_set_input(e, 0, DP_DTYPE_INT8, NULL, d.bytes), DP_ERR_NULL_POINTER);
    check_status("dp_invoke", dp_invoke(e), DP_OK);
    check_status("dp_invoke: NULL", dp_invoke(NULL), DP_ERR_NULL_POINTER);
    dp_tensor_desc od;
    dp_output_desc(e, 0, &od);
    unsigned char *out = calloc(1, od.bytes + 1);
    check_status("dp_get_output: valid", dp_get_output(e, 0, od.dtype, out, od.bytes), DP_OK);
    check("dp_get_output == dp_output_data", memcmp(out, dp_output_data(e, 0), od.bytes) == 0);
    check_status("dp_get_output: wrong dtype", dp_get_output(e, 0, od.dtype == 1 ? 3 : 1, out, od.bytes),
                 DP_ERR_WRONG_DTYPE);
    check_status("dp_get_output: one byte short", dp_get_output(e, 0, od.dtype, out, od.bytes - 1), DP_ERR_WRONG_SIZE);
    check_status("dp_get_output: dst NULL", dp_get_output(e, 0, od.dtype, NULL, od.bytes), DP_ERR_NULL_POINTER);
    check_status("dp_get_output: into the arena", dp_get_output(e, 0, od.dtype, dp_input_data(e, 0), od.bytes),
                 DP_ERR_OVERLAP);
    check_status("dp_set_input: from the arena", dp_set_input(e, 0, DP_DTYPE_INT8, dp_input_data(e, 0), d.bytes),
                 DP_ERR_OVERLAP);

    /* ---- bad handles */
    memset(raw, 0, 2 * DP_ENGINE_MAX_SIZE);
    check_status("dp_invoke: zeroed memory as a handle", dp_invoke((dp_engine *)raw), DP_ERR_BAD_ENGINE);
    check_status("dp_invoke: misaligned handle", dp_invoke((dp_engine *)(raw + 8)), DP_ERR_BAD_ENGINE);
    check_status("dp_input_desc: zeroed handle", dp_input_desc((dp_engine *)raw, 0, &d), DP_ERR_BAD_ENGINE);
    /* A failed dp_init on the engine's memory kills the old engine. */
    memcpy(work, good, good_len);
    work[0] = 'X';
    check_status("dp_init again with a bad blob", init_with(work, good_len), DP_ERR_BAD_MAGIC);
    check_status("dp_invoke: the old engine is gone", dp_invoke(e), DP_ERR_BAD_ENGINE);
    check("dp_input_count(old engine) is 0", dp_input_count(e) == 0);

    /* ---- the blob changed behind a bound engine: undefined by contract, detected by dp_verify */
    memcpy(work, good, good_len);
    check_status("dp_init on a RAM copy of the blob", init_with(work, good_len), DP_OK);
    dp_engine *ev = (dp_engine *)&engine_mem;
    check_status("dp_verify: blob unchanged", dp_verify(ev), DP_OK);
    check_status("dp_invoke after dp_verify", dp_invoke(ev), DP_OK);
    work[good_len - 1] ^= 0x40;
    check_status("dp_verify: last byte changed", dp_verify(ev), DP_ERR_BLOB_CHANGED);
    work[good_len - 1] ^= 0x40;
    check_status("dp_verify: changed back", dp_verify(ev), DP_OK);
    work[8] ^= 1;
    check_status("dp_verify: header CRC field changed", dp_verify(ev), DP_ERR_BLOB_CHANGED);
    work[8] ^= 1;
    work[good_len / 2] ^= 0x10;
    fix_crc(work, good_len); /* a rewrite that is a valid blob again, with another CRC */
    check_status("dp_verify: data changed, CRC fixed", dp_verify(ev), DP_ERR_BLOB_CHANGED);
    check_status("dp_verify: NULL", dp_verify(NULL), DP_ERR_NULL_POINTER);
    check_status("dp_verify: zeroed handle", dp_verify((dp_engine *)raw), DP_ERR_BAD_ENGINE);
    free(out);
    free(buf);
    free(raw);
}

struct code {
    const char *name;
    int32_t value;
};
static const struct code codes[] = {
#define X(name) {#name, name},
#include "status_list.h"
#undef X
};

static void message_cases(void) {
    size_t n = sizeof codes / sizeof codes[0];
    int distinct = 1, known = 1, classes = 1, negative = 1;
    for (size_t i = 0; i < n; i++) {
        const char *m = dp_status_str(codes[i].value);
        if (!m || !*m || strcmp(m, "unknown status") == 0) {
            known = 0;
            printf("      %s has no message\n", codes[i].name);
        }
        if ((codes[i].value == DP_OK) != (strcmp(codes[i].name, "DP_OK") == 0) || codes[i].value > 0) negative = 0;
        int cls = DP_STATUS_CLASS(codes[i].value);
        if (codes[i].value != DP_OK && (cls < 1 || cls > 7)) classes = 0;
        for (size_t j = 0; j < i; j++) {
            if (codes[j].value == codes[i].value || strcmp(dp_status_str(codes[j].value), m) == 0) {
                distinct = 0;
                printf("      %s and %s share a value or a message\n", codes[i].name, codes[j].name);
            }
        }
    }
    printf("      doppler.h defines %zu status codes\n", n);
    check("every status code has a static message", known);
    check("values and messages are distinct", distinct);
    check("DP_OK is 0, every other code negative", negative);
    check("DP_STATUS_CLASS is 1..7 for every error", classes);
    const int32_t unknown[] = {1, -1, -100, -199, -600, -700, -708, -1000, INT32_MIN, INT32_MAX};
    int all_unknown = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        all_unknown &= strcmp(dp_status_str(unknown[i]), "unknown status") == 0;
    check("dp_status_str: \"unknown status\" for other values", all_unknown);
    check("dp_version is not empty", dp_version() && *dp_version());

    /* Which codes came out of a C case. All -6xx (but DP_ERR_INTERNAL, unreachable by design)
     * and -7xx must have. */
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t v = codes[i].value;
        if (v == DP_OK || v == DP_ERR_INTERNAL || seen[-v]) continue;
        int cls = DP_STATUS_CLASS(v);
        if (cls >= 6) {
            missing = 1;
            printf("      %s was never produced\n", codes[i].name);
        }
    }
    check("every -6xx/-7xx code (but DP_ERR_INTERNAL) was produced by a bad argument", !missing);
    int produced = 0;
    for (size_t i = 0; i < n; i++) produced += codes[i].value != DP_OK && seen[-codes[i].value];
    printf("      %d of %zu error codes produced from C\n", produced, n - 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_status MODEL.dpl\n");
        return 2;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        fprintf(stderr, "test_status: cannot read %s\n", argv[1]);
        return 2;
    }
    fseek(fp, 0, SEEK_END);
    good_len = (size_t)ftell(fp);
    rewind(fp);
    good = aligned_alloc(16, (good_len + 15) & ~(size_t)15);
    work = aligned_alloc(16, (good_len + 32 + 15) & ~(size_t)15);
    if (!good || !work || fread(good, 1, good_len, fp) != good_len) return 2;
    fclose(fp);
    if (dp_arena_size(good, good_len, &arena_len) != DP_OK) {
        fprintf(stderr, "test_status: %s is not a valid blob\n", argv[1]);
        return 2;
    }
    arena = aligned_alloc(16, (arena_len + 64 + 15) & ~(size_t)15);

    blob_cases();
    argument_cases();
    message_cases();

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
