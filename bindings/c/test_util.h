/*
 * What the C test programs share: the CHECK macros and small helpers for the fixtures that
 * gen_fixtures.py writes (tab-separated hex). Each test program includes it once.
 */
#ifndef SE_TEST_UTIL_H
#define SE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symmetric_encryption.h"

static int passed, failed;
static const char *fixtures;

#define CHECK(cond, ...)                                                          \
  do {                                                                            \
    if (cond) {                                                                   \
      passed++;                                                                   \
    } else {                                                                      \
      failed++;                                                                   \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
      fprintf(stderr, __VA_ARGS__);                                               \
      fprintf(stderr, " [last error: %s]\n", se_last_error());                   \
    }                                                                             \
  } while (0)

#define CHECK_STATUS(expr, want)                                                  \
  do {                                                                            \
    se_status got_ = (expr);                                                      \
    CHECK(got_ == (want), "%s: got status %d, want %d", #expr, (int)got_, (int)(want)); \
  } while (0)

/* ---- small helpers ------------------------------------------------------------------ */

static inline size_t unhex(const char *hex, uint8_t **out) {
  if (strcmp(hex, "-") == 0) { *out = NULL; return 0; }
  size_t n = strlen(hex) / 2;
  uint8_t *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &b[i]);
  *out = b;
  return n;
}

static inline char *path_join(const char *a, const char *b) {
  char *p = malloc(strlen(a) + strlen(b) + 2);
  sprintf(p, "%s/%s", a, b);
  return p;
}

static inline uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(n ? n : 1);
  *len = fread(b, 1, n, f);
  fclose(f);
  return b;
}

static inline int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fwrite(data, 1, len, f);
  return fclose(f);
}

static inline int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Splits a tab-separated line in place. */
static inline int split_tabs(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\n")] = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, "\t", &save); t && n < max; t = strtok_r(NULL, "\t", &save)) fields[n++] = t;
  return n;
}

/* One case of the gem's strings.json, as gen_fixtures.py writes it to values.tsv: a context of
 * its cipher (built with the case's key, iv, version, encoding and header setting), the
 * encrypted value and the plaintext. Valid for the duration of the callback. */
struct gem_value {
  se_context *ctx;
  const char *cipher, *encoding;
  const uint8_t *ct, *pt;
  size_t ct_len, pt_len;
};

/* Calls `check(value, n, user)` for the first `max` cases of values.tsv (every case when `max`
 * is 0), n counting from 0, and returns how many it read. */
static inline int for_each_gem_value(int max, void (*check)(const struct gem_value *, int, void *),
                                     void *user) {
  char *p = path_join(fixtures, "values.tsv");
  FILE *f = fopen(p, "r");
  free(p);
  CHECK(f != NULL, "values.tsv missing");
  if (!f) return 0;
  static char line[1 << 20];
  int n = 0;
  while (!(max && n == max) && fgets(line, sizeof line, f)) {
    char *fl[8];
    if (split_tabs(line, fl, 8) != 8) continue;
    uint8_t *key, *iv, *ct, *pt;
    size_t key_len = unhex(fl[1], &key), iv_len = unhex(fl[2], &iv);
    size_t ct_len = unhex(fl[6], &ct), pt_len = unhex(fl[7], &pt);
    se_context *ctx = NULL;
    CHECK_STATUS(se_context_new_cipher(fl[0], key, key_len, iv, iv_len, atoi(fl[3]), fl[4], atoi(fl[5]), &ctx), SE_OK);
    if (ctx) {
      struct gem_value v = {ctx, fl[0], fl[4], ct, pt, ct_len, pt_len};
      check(&v, n, user);
    }
    se_context_free(ctx);
    free(key); free(iv); free(ct); free(pt);
    n++;
  }
  fclose(f);
  return n;
}

static inline se_context *dev_context(const char *cipher, int version) {
  static const uint8_t key32[32] = "0123456789abcdef0123456789abcdef";
  se_context *ctx = NULL;
  se_status st = se_context_new_cipher(cipher, key32, strstr(cipher, "128") ? 16 : 32, NULL, 0, version,
                                       NULL, -1, &ctx);
  if (st != SE_OK) { fprintf(stderr, "dev_context: %s\n", se_last_error()); exit(2); }
  return ctx;
}

#endif
