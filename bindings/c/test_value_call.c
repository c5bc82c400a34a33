/*
 * The frame calls of the C ABI, se_encrypt_call and se_decrypt_call (a per-thread
 * se_value_call holding the context and the output buffer), which the Python package uses for
 * short values: every gem value decrypts through them as through se_decrypt, results are those
 * of se_encrypt_into / se_decrypt_into, a buffer too small is wiped and reports the size needed,
 * and bad frames and lengths are refused with a message.
 *
 * Usage: test_value_call FIXTURES_DIR   (made by gen_fixtures.py from tests/vectors)
 * Environment: SE_TEST_QUICK=1 (the valgrind run) checks the first 40 gem values;
 * SE_TEST_THREAD_ITERS (default 20000) values per thread.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <pthread.h>

/* How many gem values were longer than the buffer. */
struct tally {
  int too_long;
};

/* Every case of the gem's strings.json: se_decrypt_call gives se_decrypt's plaintext, with
 * a buffer of 4096 bytes (the Python package's) or, for longer plaintexts, the size needed. */
static void check_gem_value(const struct gem_value *v, int n, void *user) {
  struct tally *t = user;
  static uint8_t buf[4096];
  se_value_call call = {v->ctx, buf, sizeof buf, 12345};
  se_status st = se_decrypt_call(&call, v->ct, (int32_t)v->ct_len);
  if (v->pt_len <= sizeof buf) {
    CHECK(st == SE_OK, "gem value %d: %s", n, se_last_error());
    CHECK(call.out_len == v->pt_len && (v->pt_len == 0 || memcmp(buf, v->pt, v->pt_len) == 0),
          "gem value %d (%s %s)", n, v->cipher, v->encoding);
  } else {
    t->too_long++;
    CHECK(st == SE_ERROR_ARGUMENT && call.out_len == v->pt_len, "gem value %d: size needed %zu, want %zu", n,
          call.out_len, v->pt_len);
  }
  memset(buf, 0, sizeof buf);
}

static void test_gem_values(void) {
  const int quick = getenv("SE_TEST_QUICK") != NULL;
  struct tally t = {0};
  int n = for_each_gem_value(quick ? 40 : 0, check_gem_value, &t);
  CHECK(n == (quick ? 40 : 364), "checked %d gem values, want %d", n, quick ? 40 : 364);
  printf("gem values through se_decrypt_call: %d (%d longer than the buffer)\n", n, t.too_long);
}

/* Encrypt through the frame, for every option form: the value decrypts back with se_decrypt,
 * and deterministic results equal se_encrypt_into's. */
static void test_round_trips(void) {
  se_context *ctx = dev_context("aes-256-gcm", 3);
  uint8_t buf[4096], other[4096];
  se_value_call call = {ctx, buf, sizeof buf, 0};
  const char *values[] = {"", "a", "0123456789abcdef0123456789abcdef", "line\nbreak and \0 NUL"};
  size_t lens[] = {0, 1, 32, 21};
  int forms[][3] = {{-1, -1, -1}, {1, 0, -1}, {0, 0, 1}, {1, 1, 1}, {0, 1, 1}};
  for (size_t v = 0; v < 4; v++) {
    for (size_t k = 0; k < 5; k++) {
      se_encrypt_options o = se_encrypt_options_default();
      o.random_iv = forms[k][0];
      o.compress = forms[k][1];
      o.header = forms[k][2];
      CHECK_STATUS(se_encrypt_call(&call, (const uint8_t *)values[v], (int32_t)lens[v], &o), SE_OK);
      size_t enc_len = call.out_len;
      se_bytes dec = {0};
      CHECK_STATUS(se_decrypt(ctx, buf, enc_len, &dec), SE_OK);
      CHECK(dec.len == lens[v] && (lens[v] == 0 || memcmp(dec.data, values[v], lens[v]) == 0), "round trip %zu/%zu", v, k);
      se_bytes_free(&dec);
      if (o.random_iv == 0) {
        size_t other_len = 0;
        CHECK_STATUS(se_encrypt_into(ctx, (const uint8_t *)values[v], lens[v], &o, other, sizeof other, &other_len), SE_OK);
        CHECK(other_len == enc_len && memcmp(other, buf, enc_len) == 0, "deterministic %zu/%zu equals se_encrypt_into", v, k);
      }
      /* And back through the frame. */
      memcpy(other, buf, enc_len);
      CHECK_STATUS(se_decrypt_call(&call, other, (int32_t)enc_len), SE_OK);
      CHECK(call.out_len == lens[v] && (lens[v] == 0 || memcmp(buf, values[v], lens[v]) == 0), "frame round trip %zu/%zu", v, k);
    }
  }
  /* NULL options are the defaults. */
  CHECK_STATUS(se_encrypt_call(&call, (const uint8_t *)"abc", 3, NULL), SE_OK);
  se_context_free(ctx);
}

/* Buffers too small, bad frames, bad lengths, bad values. */
static void test_errors(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  uint8_t small[8], big[4096];
  memset(small, 0xAA, sizeof small);
  se_value_call call = {ctx, small, sizeof small, 0};
  CHECK_STATUS(se_encrypt_call(&call, (const uint8_t *)"abc", 3, NULL), SE_ERROR_ARGUMENT);
  size_t need = call.out_len;
  CHECK(need > sizeof small, "encrypt: size needed %zu", need);
  CHECK(strstr(se_last_error(), "are needed") != NULL, "message: %s", se_last_error());

  /* A plaintext longer than the buffer: the part written is wiped, the size needed reported. */
  const char *plain = "a plaintext longer than eight bytes";
  call.out_buf = big;
  call.out_cap = sizeof big;
  CHECK_STATUS(se_encrypt_call(&call, (const uint8_t *)plain, (int32_t)strlen(plain), NULL), SE_OK);
  uint8_t enc[4096];
  size_t enc_len = call.out_len;
  memcpy(enc, big, enc_len);
  call.out_buf = small;
  call.out_cap = sizeof small;
  CHECK_STATUS(se_decrypt_call(&call, enc, (int32_t)enc_len), SE_ERROR_ARGUMENT);
  CHECK(call.out_len == strlen(plain), "decrypt: size needed %zu", call.out_len);
  int wiped = 1;
  for (size_t i = 0; i < sizeof small; i++) wiped &= small[i] == 0;
  CHECK(wiped, "the part written is wiped");

  /* A tampered value, a value of another key: the errors of se_decrypt. */
  call.out_buf = big;
  call.out_cap = sizeof big;
  enc[enc_len - 3] ^= 1;
  se_bytes ignored = {0};
  se_status want = se_decrypt(ctx, enc, enc_len, &ignored);
  CHECK(want != SE_OK, "tampered value refused by se_decrypt");
  CHECK_STATUS(se_decrypt_call(&call, enc, (int32_t)enc_len), want);
  CHECK(call.out_len == 0, "out_len 0 after a failure");

  /* NULL frame, negative length, NULL context, NULL buffer with a capacity. */
  CHECK_STATUS(se_encrypt_call(NULL, (const uint8_t *)"abc", 3, NULL), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "se_value_call") != NULL, "message names the frame: %s", se_last_error());
  CHECK_STATUS(se_decrypt_call(NULL, enc, 3), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_encrypt_call(&call, (const uint8_t *)"abc", -1, NULL), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "negative") != NULL, "message: %s", se_last_error());
  CHECK_STATUS(se_decrypt_call(&call, enc, -5), SE_ERROR_ARGUMENT);
  se_value_call no_ctx = {NULL, big, sizeof big, 0};
  CHECK_STATUS(se_encrypt_call(&no_ctx, (const uint8_t *)"abc", 3, NULL), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_decrypt_call(&no_ctx, enc, (int32_t)enc_len), SE_ERROR_ARGUMENT);
  se_value_call no_buf = {ctx, NULL, 16, 0};
  CHECK_STATUS(se_decrypt_call(&no_buf, enc, (int32_t)enc_len), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_encrypt_call(&no_buf, (const uint8_t *)"abc", 3, NULL), SE_ERROR_ARGUMENT);
  se_context_free(ctx);
}

/* A compressed value that inflates past the buffer and past the context's limit. */
static void test_compressed(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1), *limited = NULL;
  CHECK_STATUS(se_context_with_max_decompressed_size(ctx, 10000, &limited), SE_OK);
  size_t n = 50000;
  uint8_t *zeros = calloc(n, 1);
  se_encrypt_options o = se_encrypt_options_default();
  o.compress = 1;
  se_bytes enc = {0};
  CHECK_STATUS(se_encrypt(ctx, zeros, n, &o, &enc), SE_OK);
  uint8_t buf[4096];
  se_value_call call = {ctx, buf, sizeof buf, 0};
  CHECK_STATUS(se_decrypt_call(&call, enc.data, (int32_t)enc.len), SE_ERROR_ARGUMENT);
  CHECK(call.out_len == n, "size needed %zu", call.out_len);
  call.ctx = limited;
  CHECK_STATUS(se_decrypt_call(&call, enc.data, (int32_t)enc.len), SE_ERROR_CIPHER);
  CHECK(call.out_len == 0, "out_len 0 past the limit");
  se_bytes_free(&enc);
  free(zeros);
  se_context_free(limited);
  se_context_free(ctx);
}

/* Threads, each with its own frame on one shared context (the way the Python package uses
 * them): every result is right. */
struct worker {
  se_context *ctx;
  int id, bad;
};

static void *work(void *arg) {
  struct worker *w = arg;
  uint8_t buf[4096], enc[4096];
  se_value_call call = {w->ctx, buf, sizeof buf, 0};
  char plain[64];
  int iters = getenv("SE_TEST_THREAD_ITERS") ? atoi(getenv("SE_TEST_THREAD_ITERS")) : 20000;
  for (int i = 0; i < iters; i++) {
    int len = snprintf(plain, sizeof plain, "thread %d value %d", w->id, i);
    if (se_encrypt_call(&call, (const uint8_t *)plain, len, NULL) != SE_OK) { w->bad++; continue; }
    size_t enc_len = call.out_len;
    memcpy(enc, buf, enc_len);
    if (se_decrypt_call(&call, enc, (int32_t)enc_len) != SE_OK) { w->bad++; continue; }
    if (call.out_len != (size_t)len || memcmp(buf, plain, (size_t)len) != 0) w->bad++;
  }
  return NULL;
}

static void test_threads(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  pthread_t t[4];
  struct worker w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){ctx, i, 0};
    pthread_create(&t[i], NULL, work, &w[i]);
  }
  int bad = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    bad += w[i].bad;
  }
  CHECK(bad == 0, "%d bad results across 4 threads", bad);
  se_context_free(ctx);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  fixtures = argv[1];
  test_gem_values();
  test_round_trips();
  test_errors();
  test_compressed();
  test_threads();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
