/*
 * C ABI benchmark: ops/s for 32-byte values (one thread, and batches of 1,000,000 on one thread
 * and on every core) and MB/s for streams.
 *
 *   c_bench [SECONDS]      (built and run by scripts/bench)
 *
 * Prints one "name<TAB>value<TAB>unit" line per case so scripts/bench can tabulate it.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symmetric_encryption.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static se_context *make(const char *cipher) {
  uint8_t key[32];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 7 + 1);
  se_context *ctx = NULL;
  if (se_context_new_cipher(cipher, key, 32, (const uint8_t *)"0123456789abcdef", 16, 1, NULL, 1, &ctx) != SE_OK) {
    fprintf(stderr, "c_bench: %s\n", se_last_error());
    exit(1);
  }
  return ctx;
}

static const uint8_t value[32] = "4111-1111-1111-1111 exp 12/2030.";

static void bench_encrypt(const char *name, se_context *ctx, int random_iv, double seconds) {
  se_encrypt_options o = se_encrypt_options_default();
  o.random_iv = random_iv;
  uint8_t out[128];
  size_t len;
  long n = 0;
  double t0 = now(), t;
  do {
    for (int i = 0; i < 1000; i++) {
      if (se_encrypt_into(ctx, value, 32, &o, out, sizeof out, &len) != SE_OK) exit(1);
    }
    n += 1000;
  } while ((t = now() - t0) < seconds);
  printf("%s\t%.0f\tops/s\n", name, n / t);
}

static void bench_decrypt(const char *name, se_context *ctx, double seconds) {
  uint8_t enc[128], out[64];
  size_t enc_len, len;
  se_encrypt_options o = se_encrypt_options_default();
  o.random_iv = 1;
  se_encrypt_into(ctx, value, 32, &o, enc, sizeof enc, &enc_len);
  long n = 0;
  double t0 = now(), t;
  do {
    for (int i = 0; i < 1000; i++) {
      if (se_decrypt_into(ctx, enc, enc_len, out, sizeof out, &len) != SE_OK) exit(1);
    }
    n += 1000;
  } while ((t = now() - t0) < seconds);
  printf("%s\t%.0f\tops/s\n", name, n / t);
}

/* se_encrypt_many / se_decrypt_many of `count` 32-byte values, on one thread
 * (SYMMETRIC_ENCRYPTION_THREADS=1) and on every core (the default): the best of 5 calls each, so
 * that one call's page faults on memory the allocator has just returned to the system, or a
 * neighbour on the shared machine, do not decide a ratio. */
static void bench_many(se_context *ctx, size_t count) {
  se_slice *in = malloc(count * sizeof *in), *back = malloc(count * sizeof *back);
  se_bytes *enc = malloc(count * sizeof *enc), *dec = malloc(count * sizeof *dec);
  for (size_t i = 0; i < count; i++) in[i] = (se_slice){value, 32};
  se_encrypt_options o = se_encrypt_options_default();
  o.random_iv = 1;
  size_t failed_at;
  for (int all = 0; all <= 1; all++) {
    const char *label = all ? "every core" : "1 thread";
    if (all) unsetenv("SYMMETRIC_ENCRYPTION_THREADS"); else setenv("SYMMETRIC_ENCRYPTION_THREADS", "1", 1);
    double best_enc = 1e30, best_dec = 1e30;
    for (int round = 0; round < 5; round++) {
      double t0 = now();
      if (se_encrypt_many(ctx, in, count, &o, enc, &failed_at) != SE_OK) exit(1);
      double t = now() - t0;
      if (t < best_enc) best_enc = t;
      for (size_t i = 0; i < count; i++) back[i] = (se_slice){enc[i].data, enc[i].len};
      t0 = now();
      if (se_decrypt_many(ctx, back, count, dec, &failed_at) != SE_OK) exit(1);
      t = now() - t0;
      if (t < best_dec) best_dec = t;
      for (size_t i = 0; i < count; i++) { se_bytes_free(&enc[i]); se_bytes_free(&dec[i]); }
    }
    printf("C ABI se_encrypt_many %zu x 32 B, random iv, %s\t%.0f\tvalues/s\n", count, label, count / best_enc);
    printf("C ABI se_decrypt_many %zu x 32 B, %s\t%.0f\tvalues/s\n", count, label, count / best_dec);
  }
  unsetenv("SYMMETRIC_ENCRYPTION_THREADS");
  free(in); free(back); free(enc); free(dec);
}

static int64_t sink(void *user, const uint8_t *data, size_t len) {
  (void)data;
  *(size_t *)user += len;
  return (int64_t)len;
}

struct src { const uint8_t *data; size_t len, pos; };
static int64_t src_read(void *user, uint8_t *buf, size_t cap) {
  struct src *s = user;
  size_t n = s->len - s->pos < cap ? s->len - s->pos : cap;
  memcpy(buf, s->data + s->pos, n);
  s->pos += n;
  return (int64_t)n;
}

struct acc { uint8_t *d; size_t len; };
static int64_t append_cb(void *user, const uint8_t *data, size_t len) {
  struct acc *a = user;
  memcpy(a->d + a->len, data, len);
  a->len += len;
  return (int64_t)len;
}

/* Decrypts a stream of `part` bytes (encrypted in `enc`) `rounds` times, with reads of `want`
 * bytes into `buf`; MB/s. */
static double decrypt_rounds(se_context *ctx, const struct acc *enc, size_t part, size_t rounds,
                             uint8_t *buf, size_t want) {
  double t0 = now();
  for (size_t r = 0; r < rounds; r++) {
    struct src s = {enc->d, enc->len, 0};
    se_reader *rd = NULL;
    if (se_reader_open_callbacks(ctx, src_read, NULL, &s, -1, &rd) != SE_OK) exit(1);
    size_t nread, got = 0;
    while (se_reader_read(rd, buf, want, &nread) == SE_OK && nread > 0) got += nread;
    se_reader_free(rd);
    if (got != part) { fprintf(stderr, "c_bench: short read %zu\n", got); exit(1); }
  }
  return (double)rounds * part / (now() - t0) / 1e6;
}

/* The encrypted form of `part` zero bytes. */
static struct acc encrypted(se_context *ctx, const se_stream_options *o, size_t part) {
  uint8_t *plain = calloc(1, part);
  struct acc enc = {malloc(part + part / 64 + 65536), 0};
  se_writer *w = NULL;
  se_writer_open_callbacks(ctx, append_cb, &enc, o, &w);
  se_writer_write(w, plain, part);
  if (se_writer_close(w) != SE_OK) exit(1);
  se_writer_free(w);
  free(plain);
  return enc;
}

/* Encrypts `total` bytes through a writer into a sink; decrypts a 64 MiB stream held in memory
 * repeatedly until `total` bytes were read back, then a 1 MiB one (which stays in the CPU's
 * caches, as the encrypt row's 64 KiB source and `openssl speed`'s 16 KiB buffer do: the
 * 64 MiB rows also measure the machine's memory bandwidth, read by the source's memcpy). */
static void bench_stream(const char *cipher, size_t total) {
  se_context *ctx = make(cipher);
  size_t block = 1 << 16;
  uint8_t *buf = malloc(block);
  for (size_t i = 0; i < block; i++) buf[i] = (uint8_t)(i * 131);
  se_stream_options o = se_stream_options_default();
  o.compress = 0;
  size_t written = 0;
  se_writer *w = NULL;
  double t0 = now();
  if (se_writer_open_callbacks(ctx, sink, &written, &o, &w) != SE_OK) exit(1);
  for (size_t done = 0; done < total; done += block) se_writer_write(w, buf, block);
  if (se_writer_close(w) != SE_OK) exit(1);
  se_writer_free(w);
  double t = now() - t0;
  printf("stream %s encrypt, %zu MiB in memory\t%.0f\tMB/s\n", cipher, total >> 20, total / t / 1e6);

  size_t part = total < (64u << 20) ? total : (64u << 20);
  struct acc enc = encrypted(ctx, &o, part);
  /* Reads of a whole chunk (64 KiB) are opened in the caller's buffer; reads of a byte less go
   * through the reader's own buffer: the same library, both paths, in one run. */
  for (int whole = 1; whole >= 0; whole--) {
    printf("stream %s decrypt, %zu MiB in memory%s\t%.0f\tMB/s\n", cipher, total >> 20,
           whole ? "" : ", reads of 64 KiB - 1",
           decrypt_rounds(ctx, &enc, part, total / part, buf, whole ? block : block - 1));
  }
  free(enc.d);
  size_t small = 1u << 20;
  enc = encrypted(ctx, &o, small);
  printf("stream %s decrypt, %zu MiB from a 1 MiB stream in cache\t%.0f\tMB/s\n", cipher, total >> 20,
         decrypt_rounds(ctx, &enc, small, total / small, buf, block));
  free(enc.d);
  free(buf);
  se_context_free(ctx);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  size_t stream_mib = argc > 2 ? (size_t)atol(argv[2]) : 256;
  printf("backend\t%s\t\n", se_backend());
  se_context *gcm = make("aes-256-gcm"), *cbc = make("aes-256-cbc");
  bench_encrypt("C ABI aes-256-gcm encrypt, random iv", gcm, 1, seconds);
  bench_encrypt("C ABI aes-256-gcm encrypt, deterministic iv", gcm, 0, seconds);
  bench_decrypt("C ABI aes-256-gcm decrypt", gcm, seconds);
  bench_many(gcm, 1000000);
  bench_encrypt("C ABI aes-256-cbc encrypt, random iv", cbc, 1, seconds);
  bench_decrypt("C ABI aes-256-cbc decrypt", cbc, seconds);
  se_context_free(gcm);
  se_context_free(cbc);
  bench_stream("aes-256-gcm", stream_mib << 20);
  bench_stream("aes-256-cbc", stream_mib << 20);
  return 0;
}
