/*
 * run_model — runs a Doppler model blob once through the C API (libdoppler.a + doppler.h).
 *
 *   run_model MODEL.dpl [--input FILE]... [--output FILE]... [--expect FILE]... [--quiet]
 *
 * One --input per graph input, in graph order: a .npy file (C order; its dtype must match the
 * tensor: int8 '|i1', float32 '<f4', int32 '<i4', bit-packed '<u4' words) or raw little-endian
 * bytes of exactly the tensor's size (`doppler inspect` prints the sizes). Inputs not given are
 * zeros. Each output is printed as a header line and then one value per line; --output writes
 * the raw bytes of output k to the k-th FILE; --expect compares output k with the k-th FILE
 * (.npy or raw): int8, int32 and bit-packed outputs must be identical, float32 outputs within
 * |got - want| <= 1e-5 + 1e-4 * |want| (the tolerance `doppler run --expect` documents).
 *
 * Exit status: 0 ok, 1 an output differs from --expect, 2 bad usage or I/O, 3 a Doppler error.
 *
 * Memory: the blob and the arena are heap buffers aligned to 16 bytes (DP_BLOB_ALIGN,
 * DP_ARENA_ALIGN); the engine lives in a static dp_engine_storage. A firmware would use a const
 * array for the blob and static buffers for the arena the same way.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doppler.h"

#define MAX_IO 8

static dp_engine_storage engine_mem;

struct file {
    unsigned char *data; /* 16-byte aligned; `len` bytes of payload */
    size_t len;
    char descr[8];       /* .npy dtype ("<f4", "|i1", ...), "" for raw files */
};

static void *alloc16(size_t n) {
    size_t rounded = (n + 15) & ~(size_t)15; /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(16, rounded ? rounded : 16);
    if (!p) {
        fprintf(stderr, "run_model: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* Reads a whole file into a 16-byte-aligned buffer; for .npy files, keeps only the data and
 * records the dtype. */
static struct file read_file(const char *path, int parse_npy) {
    struct file f = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp || fseek(fp, 0, SEEK_END) != 0) {
        fprintf(stderr, "run_model: cannot read %s\n", path);
        exit(2);
    }
    long size = ftell(fp);
    rewind(fp);
    unsigned char *buf = alloc16(size > 0 ? (size_t)size : 1);
    if (size < 0 || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        fprintf(stderr, "run_model: cannot read %s\n", path);
        exit(2);
    }
    fclose(fp);
    f.data = buf;
    f.len = (size_t)size;
    if (parse_npy && f.len >= 10 && memcmp(buf, "\x93NUMPY", 6) == 0) {
        size_t hlen, start;
        if (buf[6] == 1) {
            hlen = buf[8] | (size_t)buf[9] << 8;
            start = 10;
        } else {
            hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
            start = 12;
        }
        if (start + hlen > f.len) {
            fprintf(stderr, "run_model: %s: bad .npy header\n", path);
            exit(2);
        }
        char header[512] = {0};
        memcpy(header, buf + start, hlen < sizeof header - 1 ? hlen : sizeof header - 1);
        const char *d = strstr(header, "'descr': '");
        if (!d || strstr(header, "'fortran_order': True")) {
            fprintf(stderr, "run_model: %s: only C-order .npy files are read\n", path);
            exit(2);
        }
        d += strlen("'descr': '");
        size_t k = 0;
        while (d[k] && d[k] != '\'' && k < sizeof f.descr - 1) {
            f.descr[k] = d[k];
            k++;
        }
        /* Move the payload to the (aligned) start of the buffer. */
        f.len -= start + hlen;
        memmove(buf, buf + start + hlen, f.len);
    }
    return f;
}

static const char *dtype_name(dp_dtype t) {
    switch (t) {
    case DP_DTYPE_INT8: return "int8";
    case DP_DTYPE_INT32: return "int32";
    case DP_DTYPE_FLOAT32: return "float32";
    case DP_DTYPE_BITPACKED: return "bitpacked";
    default: return "?";
    }
}

/* The .npy dtype string that stores a tensor of this dtype. */
static const char *npy_descr(dp_dtype t) {
    switch (t) {
    case DP_DTYPE_INT8: return "|i1";
    case DP_DTYPE_INT32: return "<i4";
    case DP_DTYPE_FLOAT32: return "<f4";
    case DP_DTYPE_BITPACKED: return "<u4";
    default: return "?";
    }
}

static void check_file(const char *what, size_t k, const char *path, const struct file *f, const dp_tensor_desc *d) {
    if (f->descr[0] && strcmp(f->descr, npy_descr(d->dtype)) != 0 &&
        !(d->dtype == DP_DTYPE_INT8 && strcmp(f->descr, "i1") == 0)) {
        fprintf(stderr, "run_model: %s %zu: %s holds '%s', the tensor is %s ('%s')\n", what, k, path, f->descr,
                dtype_name(d->dtype), npy_descr(d->dtype));
        exit(2);
    }
    if (f->len != d->bytes) {
        fprintf(stderr, "run_model: %s %zu: %s has %zu bytes of data, the tensor has %zu\n", what, k, path, f->len,
                d->bytes);
        exit(2);
    }
}

static void print_desc(const char *what, size_t k, const dp_tensor_desc *d) {
    printf("%s %zu: %s [", what, k, dtype_name(d->dtype));
    for (uint32_t r = 0; r < d->rank; r++) printf(r ? ",%u" : "%u", (unsigned)d->dims[r]);
    printf("] %zu bytes", d->bytes);
    if (d->dtype == DP_DTYPE_INT8) printf(", scale %g, zero point %d", (double)d->scale, (int)d->zero_point);
    printf("\n");
}

static void print_values(const dp_tensor_desc *d, const void *p) {
    switch (d->dtype) {
    case DP_DTYPE_INT8:
        for (size_t i = 0; i < d->bytes; i++) printf("%d\n", ((const int8_t *)p)[i]);
        break;
    case DP_DTYPE_INT32:
        for (size_t i = 0; i < d->bytes / 4; i++) printf("%d\n", (int)((const int32_t *)p)[i]);
        break;
    case DP_DTYPE_FLOAT32:
        for (size_t i = 0; i < d->bytes / 4; i++) printf("%.9g\n", (double)((const float *)p)[i]);
        break;
    default: /* bit-packed words */
        for (size_t i = 0; i < d->bytes / 4; i++) printf("0x%08x\n", (unsigned)((const uint32_t *)p)[i]);
        break;
    }
}

/* 0 if `got` matches `want`, 1 otherwise (with a message). */
static int compare(size_t k, const dp_tensor_desc *d, const void *got, const void *want) {
    if (d->dtype != DP_DTYPE_FLOAT32) {
        const unsigned char *g = got, *w = want;
        for (size_t i = 0; i < d->bytes; i++) {
            if (g[i] != w[i]) {
                printf("expect %zu: MISMATCH at byte %zu: got 0x%02x, want 0x%02x\n", k, i, g[i], w[i]);
                return 1;
            }
        }
        printf("expect %zu: identical (%zu bytes)\n", k, d->bytes);
        return 0;
    }
    const float *g = got, *w = want;
    double max_diff = 0;
    int identical = memcmp(got, want, d->bytes) == 0;
    for (size_t i = 0; i < d->bytes / 4; i++) {
        if (isnan(w[i]) || isnan(g[i])) {
            if (isnan(w[i]) && isnan(g[i])) continue;
            printf("expect %zu: MISMATCH at element %zu: got %.9g, want %.9g\n", k, i, (double)g[i], (double)w[i]);
            return 1;
        }
        double diff = fabs((double)g[i] - (double)w[i]);
        if (diff > 1e-5 + 1e-4 * fabs((double)w[i])) {
            printf("expect %zu: MISMATCH at element %zu: got %.9g, want %.9g\n", k, i, (double)g[i], (double)w[i]);
            return 1;
        }
        if (diff > max_diff) max_diff = diff;
    }
    if (identical) printf("expect %zu: identical (%zu bytes)\n", k, d->bytes);
    else printf("expect %zu: within tolerance (max |diff| %.3g)\n", k, max_diff);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: run_model MODEL.dpl [--input FILE]... [--output FILE]... [--expect FILE]... [--quiet]\n");
    exit(2);
}

static void die(const char *what, int32_t status) {
    fprintf(stderr, "run_model: %s: %s (%d)\n", what, dp_status_str(status), (int)status);
    exit(3);
}

int main(int argc, char **argv) {
    const char *model = NULL, *inputs[MAX_IO], *outputs[MAX_IO], *expects[MAX_IO];
    size_t n_in = 0, n_out = 0, n_exp = 0;
    int quiet = 0;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (strcmp(s, "--quiet") == 0) quiet = 1;
        else if (a + 1 < argc && strcmp(s, "--input") == 0 && n_in < MAX_IO) inputs[n_in++] = argv[++a];
        else if (a + 1 < argc && strcmp(s, "--output") == 0 && n_out < MAX_IO) outputs[n_out++] = argv[++a];
        else if (a + 1 < argc && strcmp(s, "--expect") == 0 && n_exp < MAX_IO) expects[n_exp++] = argv[++a];
        else if (s[0] != '-' && !model) model = s;
        else usage();
    }
    if (!model) usage();

    struct file blob = read_file(model, 0);
    size_t arena_bytes;
    int32_t s = dp_arena_size(blob.data, blob.len, &arena_bytes);
    if (s != DP_OK) die(model, s);
    if (dp_engine_size() > sizeof engine_mem) die("engine memory", DP_ERR_ENGINE_MEM_TOO_SMALL);
    void *arena = alloc16(arena_bytes);
    dp_engine *e;
    s = dp_init(&engine_mem, sizeof engine_mem, blob.data, blob.len, arena, arena_bytes, &e);
    if (s != DP_OK) die("dp_init", s);
    printf("doppler %s: %s, %zu bytes, arena %zu bytes, engine %zu bytes\n", dp_version(), model, blob.len,
           arena_bytes, dp_engine_size());

    size_t ni = dp_input_count(e), no = dp_output_count(e);
    if (n_in > ni || n_out > no || n_exp > no) {
        fprintf(stderr, "run_model: the model has %zu inputs and %zu outputs\n", ni, no);
        return 2;
    }
    for (size_t k = 0; k < ni; k++) {
        dp_tensor_desc d;
        if ((s = dp_input_desc(e, k, &d)) != DP_OK) die("dp_input_desc", s);
        print_desc("input", k, &d);
        if (k < n_in) {
            struct file f = read_file(inputs[k], 1);
            check_file("input", k, inputs[k], &f, &d);
            if ((s = dp_set_input(e, k, d.dtype, f.data, f.len)) != DP_OK) die("dp_set_input", s);
            free(f.data);
        }
    }

    if ((s = dp_invoke(e)) != DP_OK) die("dp_invoke", s);

    int mismatches = 0;
    for (size_t k = 0; k < no; k++) {
        dp_tensor_desc d;
        if ((s = dp_output_desc(e, k, &d)) != DP_OK) die("dp_output_desc", s);
        const void *p = dp_output_data(e, k);
        if (!p) die("dp_output_data", DP_ERR_INDEX_OUT_OF_RANGE);
        print_desc("output", k, &d);
        if (!quiet) print_values(&d, p);
        if (k < n_out) {
            FILE *fp = fopen(outputs[k], "wb");
            if (!fp || fwrite(p, 1, d.bytes, fp) != d.bytes || fclose(fp) != 0) {
                fprintf(stderr, "run_model: cannot write %s\n", outputs[k]);
                return 2;
            }
        }
        if (k < n_exp) {
            struct file f = read_file(expects[k], 1);
            check_file("expect", k, expects[k], &f, &d);
            mismatches += compare(k, &d, p, f.data);
            free(f.data);
        }
    }
    free(arena);
    free(blob.data);
    return mismatches ? 1 : 0;
}
