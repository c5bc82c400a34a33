/*
 * The batch calls of the C ABI: se_encrypt_batch / se_decrypt_batch (packed, a status per
 * value) and se_encrypt_many / se_decrypt_many (all or nothing), on the gem's values, on
 * batches large enough to run on several threads, and with every kind of bad input.
 *
 * Usage: test_batch FIXTURES_DIR   (made by gen_fixtures.py from tests/vectors)
 * Environment: SE_TEST_BATCH_VALUES (default 20000) values in the large batches;
 * SE_TEST_BATCH_QUICK=1 (the valgrind run) checks the first 40 gem values and one thread count.
 */
#define _GNU_SOURCE
#include "test_util.h"

/* Packs `n` values (pointers and lengths) into one buffer and n + 1 offsets. */
static uint8_t *pack(uint8_t *const *vals, const size_t *lens, size_t n, size_t **offsets, size_t *total) {
  size_t t = 0;
  for (size_t i = 0; i < n; i++) t += lens[i];
  uint8_t *data = malloc(t ? t : 1);
  size_t *off = malloc((n + 1) * sizeof *off);
  off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    if (lens[i]) memcpy(data + off[i], vals[i], lens[i]);
    off[i + 1] = off[i] + lens[i];
  }
  *offsets = off;
  *total = t;
  return data;
}

/* Result i of a batch. */
static const uint8_t *result(const se_batch *b, size_t i, size_t *len) {
  const uint8_t *data = se_batch_data(b, NULL);
  const size_t *off = se_batch_offsets(b);
  *len = off[i + 1] - off[i];
  return data ? data + off[i] : NULL;
}

/* Every value of the gem's strings.json, in a batch with a tampered copy of itself and an empty
 * value: the good ones decrypt to the recorded plaintext, the tampered one fails alone with the
 * status se_decrypt gives it, and its slot holds a message. */
static void check_gem_value_in_batch(const struct gem_value *v, int n, void *user) {
  (void)user;
  const uint8_t *ct = v->ct, *pt = v->pt;
  const size_t ct_len = v->ct_len, pt_len = v->pt_len;
  uint8_t *bad = malloc(ct_len + 1);
  memcpy(bad, ct, ct_len);
  if (ct_len > 12) bad[ct_len / 2] ^= 0x01; /* flips a bit of the encoded payload */
  se_bytes single = {0};
  se_status want_bad = se_decrypt(v->ctx, bad, ct_len, &single);
  se_bytes_free(&single);
  uint8_t *vals[4] = {(uint8_t *)ct, bad, (uint8_t *)"", (uint8_t *)ct};
  size_t lens[4] = {ct_len, ct_len, 0, ct_len};
  size_t *off, total;
  uint8_t *data = pack(vals, lens, 4, &off, &total);
  se_batch *b = NULL;
  CHECK_STATUS(se_decrypt_batch(v->ctx, data, total, off, 4, 0, &b), SE_OK);
  const int32_t *st = se_batch_statuses(b);
  CHECK(se_batch_count(b) == 4, "count");
  size_t len;
  for (size_t i = 0; i < 4; i += 3) {
    const uint8_t *r = result(b, i, &len);
    CHECK(st[i] == SE_OK && len == pt_len && (pt_len == 0 || memcmp(r, pt, pt_len) == 0),
          "gem value %d, slot %zu (%s %s)", n, i, v->cipher, v->encoding);
  }
  CHECK(st[2] == SE_OK && (result(b, 2, &len), len == 0), "the empty value decrypts to empty");
  CHECK(st[1] == (int32_t)want_bad, "gem value %d tampered: batch status %d, se_decrypt %d", n, st[1], (int)want_bad);
  if (want_bad != SE_OK) {
    const uint8_t *msg = result(b, 1, &len);
    CHECK(len > 10 && se_batch_failures(b) == 1, "a failed slot holds its message (%zu bytes)", len);
    CHECK(pt_len < 4 || !memmem(msg, len, pt, pt_len), "no plaintext in the message");
  }
  se_batch_free(b);
  free(data); free(off); free(bad);
}

static void test_gem_values_in_batches(void) {
  const int quick = getenv("SE_TEST_BATCH_QUICK") != NULL;
  int n = for_each_gem_value(quick ? 40 : 0, check_gem_value_in_batch, NULL);
  CHECK(n == (quick ? 40 : 364), "checked %d gem values", n);
  printf("gem values (strings.json) in batches: %d\n", n);
}

/* 20,000 values (SE_TEST_BATCH_VALUES): enough for several threads. Deterministic-iv batch encryption must give the
 * same bytes as se_encrypt one by one; decryption of the batch, with every 97th value
 * corrupted, gives back the rest and fails exactly those. */
static void test_large_batches(void) {
  const char *env = getenv("SE_TEST_BATCH_VALUES");
  const size_t N = env ? (size_t)atol(env) : 20000;
  se_context *ctx = dev_context("aes-256-gcm", 3);
  uint8_t (*plain)[24] = malloc(N * sizeof *plain);
  uint8_t **vals = malloc(N * sizeof *vals);
  size_t *lens = malloc(N * sizeof *lens);
  for (size_t i = 0; i < N; i++) {
    lens[i] = (size_t)snprintf((char *)plain[i], sizeof plain[i], "value number %zu", i);
    vals[i] = plain[i];
  }
  size_t *off, total;
  uint8_t *data = pack(vals, lens, N, &off, &total);
  const size_t max_threads = getenv("SE_TEST_BATCH_QUICK") ? 1 : 4;
  for (size_t threads = 1; threads <= max_threads; threads += 3) {
    se_encrypt_options det = {0, -1, -1, -1};
    se_batch *enc = NULL;
    CHECK_STATUS(se_encrypt_batch(ctx, data, total, off, N, &det, threads, &enc), SE_OK);
    CHECK(se_batch_failures(enc) == 0 && se_batch_count(enc) == N, "no failures");
    int same = 1;
    for (size_t i = 0; i < N && same; i++) {
      se_bytes one = {0};
      se_encrypt(ctx, vals[i], lens[i], &det, &one);
      size_t len;
      const uint8_t *r = result(enc, i, &len);
      same = len == one.len && memcmp(r, one.data, len) == 0;
      se_bytes_free(&one);
      if (!same) CHECK(0, "batch value %zu differs from se_encrypt (%zu threads)", i, threads);
    }
    CHECK(same, "batch encryption is se_encrypt per value (%zu threads)", threads);

    /* Decrypt the results, every 97th corrupted (its first byte is not base64). */
    size_t enc_len;
    const uint8_t *enc_data = se_batch_data(enc, &enc_len);
    uint8_t *copy = malloc(enc_len);
    memcpy(copy, enc_data, enc_len);
    const size_t *enc_off = se_batch_offsets(enc);
    size_t corrupted = 0;
    for (size_t i = 0; i < N; i += 97, corrupted++) copy[enc_off[i]] = '*';
    se_batch *dec = NULL;
    CHECK_STATUS(se_decrypt_batch(ctx, copy, enc_len, enc_off, N, threads, &dec), SE_OK);
    CHECK(se_batch_failures(dec) == corrupted, "%zu failures, want %zu", se_batch_failures(dec), corrupted);
    const int32_t *st = se_batch_statuses(dec);
    int ok = 1;
    for (size_t i = 0; i < N && ok; i++) {
      size_t len;
      const uint8_t *r = result(dec, i, &len);
      if (i % 97 == 0)
        ok = st[i] != SE_OK && len > 0;
      else
        ok = st[i] == SE_OK && len == lens[i] && memcmp(r, vals[i], len) == 0;
      if (!ok) CHECK(0, "decrypted value %zu (status %d, %zu threads)", i, st[i], threads);
    }
    CHECK(ok, "every value decrypted or failed alone (%zu threads)", threads);

    /* All or nothing: se_decrypt_many stops at the first failure (index 0 here) and leaves
     * nothing allocated. */
    se_slice *in = malloc(N * sizeof *in);
    se_bytes *outs = malloc(N * sizeof *outs);
    for (size_t i = 0; i < N; i++) in[i] = (se_slice){copy + enc_off[i], enc_off[i + 1] - enc_off[i]};
    size_t failed_at = 12345;
    CHECK(se_decrypt_many(ctx, in + 1, N - 1, outs, &failed_at) != SE_OK && failed_at == 96,
          "se_decrypt_many: first failure at %zu, want 96", failed_at);
    int all_null = 1;
    for (size_t i = 0; i < N - 1; i++) all_null &= outs[i].data == NULL;
    CHECK(all_null, "se_decrypt_many leaves nothing allocated on failure");
    CHECK_STATUS(se_decrypt_many(ctx, in + 1, 95, outs, &failed_at), SE_OK);
    CHECK(outs[94].len == lens[95] && memcmp(outs[94].data, vals[95], lens[95]) == 0, "se_decrypt_many result");
    for (size_t i = 0; i < 95; i++) se_bytes_free(&outs[i]);

    /* The same on 4 threads over every value: whole, then with failures only in the later
     * ranges (the first failing index wins, whichever thread met it). */
    memcpy(copy, enc_data, enc_len);
    for (size_t i = 0; i < N; i++) in[i] = (se_slice){copy + enc_off[i], enc_off[i + 1] - enc_off[i]};
    setenv("SYMMETRIC_ENCRYPTION_THREADS", "4", 1);
    CHECK_STATUS(se_decrypt_many(ctx, in, N, outs, &failed_at), SE_OK);
    int whole = 1;
    for (size_t i = 0; i < N; i++) {
      whole &= outs[i].len == lens[i] && memcmp(outs[i].data, vals[i], lens[i]) == 0;
      se_bytes_free(&outs[i]);
    }
    CHECK(whole, "se_decrypt_many of %zu values on 4 threads", N);
    if (N >= 8) {
      const size_t late = N * 3 / 4, early = N / 4 + 1;
      copy[enc_off[late]] = '*';
      copy[enc_off[late + 1]] = '*';
      CHECK(se_decrypt_many(ctx, in, N, outs, &failed_at) != SE_OK && failed_at == late,
            "se_decrypt_many on 4 threads: first failure at %zu, want %zu", failed_at, late);
      copy[enc_off[early]] = '*';
      CHECK(se_decrypt_many(ctx, in, N, outs, &failed_at) != SE_OK && failed_at == early,
            "se_decrypt_many on 4 threads: first failure at %zu, want %zu", failed_at, early);
      all_null = 1;
      for (size_t i = 0; i < N; i++) all_null &= outs[i].data == NULL;
      CHECK(all_null, "se_decrypt_many on 4 threads leaves nothing allocated on failure");
      /* A NULL input with a length, in a later range: refused with its index, as a value
       * that fails; nothing allocated. */
      memcpy(copy, enc_data, enc_len);
      const size_t null_at = N * 2 / 3;
      in[null_at] = (se_slice){NULL, 5};
      CHECK(se_decrypt_many(ctx, in, N, outs, &failed_at) == SE_ERROR_ARGUMENT && failed_at == null_at,
            "se_decrypt_many: NULL input at %zu, want %zu", failed_at, null_at);
      CHECK(strstr(se_last_error(), "inputs[i].data") != NULL, "message: %s", se_last_error());
      all_null = 1;
      for (size_t i = 0; i < N; i++) all_null &= outs[i].data == NULL && outs[i].len == 0;
      CHECK(all_null, "se_decrypt_many with a NULL input leaves nothing allocated");
      in[null_at] = (se_slice){copy + enc_off[null_at], enc_off[null_at + 1] - enc_off[null_at]};
      /* Options refused before any work: every output still comes back empty. */
      se_encrypt_options bad = se_encrypt_options_default();
      bad.version = 77;
      memset(outs, 0x5A, N * sizeof *outs);
      CHECK_STATUS(se_encrypt_many(ctx, in, N, &bad, outs, &failed_at), SE_ERROR_CIPHER);
      all_null = 1;
      for (size_t i = 0; i < N; i++) all_null &= outs[i].data == NULL && outs[i].len == 0;
      CHECK(all_null, "se_encrypt_many with refused options empties every output");
    }
    unsetenv("SYMMETRIC_ENCRYPTION_THREADS");
    free(in); free(outs); free(copy);
    se_batch_free(dec);
    se_batch_free(enc);
  }
  free(data); free(off);
  free(plain); free(vals); free(lens);
  se_context_free(ctx);
}

static void test_bad_arguments(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  const uint8_t data[] = "abcdef";
  size_t off[3] = {0, 3, 6};
  se_batch *b = (se_batch *)1;
  CHECK_STATUS(se_decrypt_batch(ctx, data, 6, NULL, 2, 0, &b), SE_ERROR_ARGUMENT);
  CHECK(b == NULL && strstr(se_last_error(), "offsets"), "NULL offsets: %s", se_last_error());
  CHECK_STATUS(se_decrypt_batch(NULL, data, 6, off, 2, 0, &b), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_decrypt_batch(ctx, data, 6, off, 2, 0, NULL), SE_ERROR_ARGUMENT);
  size_t past[3] = {0, 3, 7};
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, past, 2, NULL, 0, &b), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "offsets[2] = 7") != NULL, "names the bad offset: %s", se_last_error());
  size_t down[3] = {0, 4, 2};
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, down, 2, NULL, 0, &b), SE_ERROR_ARGUMENT);
  se_encrypt_options v9 = {-1, -1, -1, 9};
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, off, 2, &v9, 0, &b), SE_ERROR_CIPHER);
  se_encrypt_options bad = {7, -1, -1, -1};
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, off, 2, &bad, 0, &b), SE_ERROR_ARGUMENT);

  setenv("SYMMETRIC_ENCRYPTION_THREADS", "zero", 1);
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, off, 2, NULL, 0, &b), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "SYMMETRIC_ENCRYPTION_THREADS") != NULL, "names the variable: %s", se_last_error());
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, off, 2, NULL, 1, &b), SE_OK); /* an explicit count wins */
  se_batch_free(b);
  setenv("SYMMETRIC_ENCRYPTION_THREADS", "1", 1);
  CHECK_STATUS(se_encrypt_batch(ctx, data, 6, off, 2, NULL, 0, &b), SE_OK);
  se_batch_free(b);
  unsetenv("SYMMETRIC_ENCRYPTION_THREADS");

  /* An empty batch, and NULL batches everywhere. */
  size_t zero = 0;
  CHECK_STATUS(se_decrypt_batch(ctx, NULL, 0, &zero, 0, 0, &b), SE_OK);
  size_t len = 99;
  CHECK(se_batch_count(b) == 0 && se_batch_data(b, &len) == NULL && len == 0 && se_batch_statuses(b) == NULL,
        "empty batch");
  CHECK(se_batch_offsets(b)[0] == 0, "an empty batch still has its one offset");
  se_batch_free(b);
  CHECK(se_batch_count(NULL) == 0 && se_batch_failures(NULL) == 0 && se_batch_offsets(NULL) == NULL &&
        se_batch_statuses(NULL) == NULL && se_batch_data(NULL, NULL) == NULL, "NULL batch");
  se_batch_free(NULL);
  se_context_free(ctx);
}

/* The separator forms: values joined by NUL in, results joined by NUL out. */
static void test_split_and_join(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  const char in[] = "one\0two\0\0three"; /* four values, the third empty */
  se_batch *enc = NULL;
  se_encrypt_options det = {0, -1, -1, -1};
  CHECK_STATUS(se_encrypt_batch_split(ctx, (const uint8_t *)in, sizeof in - 1, 0, &det, 0, &enc), SE_OK);
  CHECK(se_batch_count(enc) == 4 && se_batch_failures(enc) == 0, "four values split at NUL");
  size_t len;
  const uint8_t *r = result(enc, 1, &len);
  se_bytes one = {0};
  se_encrypt(ctx, (const uint8_t *)"two", 3, &det, &one);
  CHECK(len == one.len && memcmp(r, one.data, len) == 0, "split value 1 is \"two\" encrypted");
  se_bytes_free(&one);
  CHECK((result(enc, 2, &len), len == 0), "the empty value stays empty");
  se_bytes joined = {0};
  CHECK_STATUS(se_batch_join(enc, 0, &joined), SE_OK);
  se_batch *dec = NULL;
  CHECK_STATUS(se_decrypt_batch_split(ctx, joined.data, joined.len, 0, 0, &dec), SE_OK);
  se_bytes plain = {0};
  CHECK_STATUS(se_batch_join(dec, 0, &plain), SE_OK);
  CHECK(plain.len == sizeof in - 1 && memcmp(plain.data, in, plain.len) == 0, "joined round trip");
  se_bytes_free(&plain);
  /* A separator that occurs in a result cannot join. */
  CHECK_STATUS(se_batch_join(dec, 'o', &plain), SE_ERROR_ARGUMENT);
  CHECK(plain.data == NULL && strstr(se_last_error(), "separator") != NULL, "join refused: %s", se_last_error());
  CHECK_STATUS(se_batch_join(NULL, 0, &plain), SE_ERROR_ARGUMENT);
  se_bytes_free(&joined);
  se_batch_free(dec);
  /* No data is one empty value. */
  CHECK_STATUS(se_decrypt_batch_split(ctx, NULL, 0, 0, 0, &dec), SE_OK);
  CHECK(se_batch_count(dec) == 1 && (result(dec, 0, &len), len == 0), "no data: one empty value");
  se_batch_free(dec);
  se_batch_free(enc);
  se_context_free(ctx);
}

/* se_batch_thread_limit resolves threads as the batch calls do. */
static void test_thread_limit(void) {
  size_t n = 0;
  unsetenv("SYMMETRIC_ENCRYPTION_THREADS");
  CHECK_STATUS(se_batch_thread_limit(0, &n), SE_OK);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(n >= 1 && (long)n <= cpus, "default limit %zu, %ld CPUs online", n, cpus);
  CHECK_STATUS(se_batch_thread_limit(7, &n), SE_OK);
  CHECK(n == 7, "an explicit limit is kept: %zu", n);
  setenv("SYMMETRIC_ENCRYPTION_THREADS", "3", 1);
  CHECK_STATUS(se_batch_thread_limit(0, &n), SE_OK);
  CHECK(n == 3, "the variable: %zu", n);
  setenv("SYMMETRIC_ENCRYPTION_THREADS", "0", 1);
  CHECK_STATUS(se_batch_thread_limit(0, &n), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "SYMMETRIC_ENCRYPTION_THREADS") != NULL, "message: %s", se_last_error());
  CHECK_STATUS(se_batch_thread_limit(2, &n), SE_OK);
  unsetenv("SYMMETRIC_ENCRYPTION_THREADS");
  CHECK_STATUS(se_batch_thread_limit(0, NULL), SE_ERROR_ARGUMENT);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  fixtures = argv[1];
  test_gem_values_in_batches();
  test_large_batches();
  test_bad_arguments();
  test_split_and_join();
  test_thread_limit();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
