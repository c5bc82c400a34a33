/*
 * The C test suite of the symmetric-encryption C ABI. It uses the library as a C user would:
 * only include/symmetric_encryption.h. Built against the shared and the static library by
 * bindings/c/run-tests, and run under valgrind memcheck there.
 *
 * Usage: test_se FIXTURES_DIR   (made by gen_fixtures.py from tests/vectors)
 * Environment: SE_TEST_THREAD_ITERS (default 20000) pairs per thread in the thread test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static size_t unhex(const char *hex, uint8_t **out) {
  if (strcmp(hex, "-") == 0) { *out = NULL; return 0; }
  size_t n = strlen(hex) / 2;
  uint8_t *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &b[i]);
  *out = b;
  return n;
}

static char *path_join(const char *a, const char *b) {
  char *p = malloc(strlen(a) + strlen(b) + 2);
  sprintf(p, "%s/%s", a, b);
  return p;
}

static uint8_t *read_file(const char *path, size_t *len) {
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

static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fwrite(data, 1, len, f);
  return fclose(f);
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Splits a tab-separated line in place. */
static int split_tabs(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\n")] = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, "\t", &save); t && n < max; t = strtok_r(NULL, "\t", &save)) fields[n++] = t;
  return n;
}

static se_context *dev_context(const char *cipher, int version) {
  static const uint8_t key32[32] = "0123456789abcdef0123456789abcdef";
  se_context *ctx = NULL;
  se_status st = se_context_new_cipher(cipher, key32, strstr(cipher, "128") ? 16 : 32, NULL, 0, version,
                                       NULL, -1, &ctx);
  if (st != SE_OK) { fprintf(stderr, "dev_context: %s\n", se_last_error()); exit(2); }
  return ctx;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_version_and_defaults(void) {
  CHECK(strcmp(se_version(), SE_VERSION_STRING) == 0, "se_version %s != header %s", se_version(), SE_VERSION_STRING);
  CHECK(strlen(se_backend()) > 0, "se_backend is empty");
  se_encrypt_options o = se_encrypt_options_default();
  CHECK(o.random_iv == -1 && o.compress == -1 && o.header == -1 && o.version == -1, "default options not all -1");
  se_stream_options so = se_stream_options_default();
  CHECK(so.compress == -1 && so.version == -1 && so.cipher_name == NULL && so.chunk_size == 0 &&
            so.header == -1 && so.random_key == -1 && so.random_iv == -1, "stream options");
}

static void test_free_functions_accept_null(void) {
  se_context_free(NULL);
  se_bytes_free(NULL);
  se_bytes empty = {NULL, 0};
  se_bytes_free(&empty);
  se_writer_free(NULL);
  se_reader_free(NULL);
  CHECK(1, "free(NULL)");
}

static void test_null_and_bad_arguments(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  se_bytes out = {NULL, 0};
  CHECK_STATUS(se_encrypt(NULL, (const uint8_t *)"x", 1, NULL, &out), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "ctx") != NULL, "message names ctx: %s", se_last_error());
  CHECK_STATUS(se_encrypt(ctx, NULL, 5, NULL, &out), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)"x", 1, NULL, NULL), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_decrypt(ctx, NULL, 3, &out), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_decrypt(NULL, (const uint8_t *)"x", 1, &out), SE_ERROR_ARGUMENT);
  se_encrypt_options bad = se_encrypt_options_default();
  bad.random_iv = 7;
  CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)"x", 1, &bad, &out), SE_ERROR_ARGUMENT);
  bad = se_encrypt_options_default();
  bad.version = 300;
  CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)"x", 1, &bad, &out), SE_ERROR_ARGUMENT);
  CHECK(out.data == NULL && out.len == 0, "out is empty after a failure");
  CHECK(se_is_encrypted(NULL, (const uint8_t *)"QEVuQw", 6) == 0, "is_encrypted(NULL ctx)");
  CHECK(se_context_cipher_count(NULL) == 0, "cipher_count(NULL)");

  se_context *c2 = NULL;
  uint8_t key16[16] = {0};
  CHECK_STATUS(se_context_new_cipher("aes-256-gcm", key16, 16, NULL, 0, 1, NULL, -1, &c2), SE_ERROR_CONFIG);
  CHECK(strstr(se_last_error(), "32") && strstr(se_last_error(), "16"), "key length message: %s", se_last_error());
  CHECK_STATUS(se_context_new_cipher("aes-999-xyz", key16, 16, NULL, 0, 1, NULL, -1, &c2), SE_ERROR_CONFIG);
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", key16, 16, NULL, 0, 1, "base99", -1, &c2), SE_ERROR_CONFIG);
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", key16, 16, NULL, 0, 256, NULL, -1, &c2), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", NULL, 16, NULL, 0, 1, NULL, -1, &c2), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", key16, 16, NULL, 0, 1, NULL, -1, NULL), SE_ERROR_ARGUMENT);
  const char bad_utf8[] = {(char)0xff, (char)0xfe, 0};
  CHECK_STATUS(se_context_new_cipher(bad_utf8, key16, 16, NULL, 0, 1, NULL, -1, &c2), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_context_load_yaml(NULL, 3, NULL, &c2), SE_ERROR_ARGUMENT);
  se_context_free(ctx);
}

static void test_round_trip_and_errors(void) {
  const char *ciphers[] = {"aes-256-gcm", "aes-256-cbc", "aes-128-gcm", "aes-128-cbc"};
  const char *msg = "4111 1111 1111 1111";
  for (int i = 0; i < 4; i++) {
    se_context *ctx = dev_context(ciphers[i], 3);
    for (int random_iv = 0; random_iv <= 1; random_iv++) {
      for (int compress = 0; compress <= 1; compress++) {
        se_encrypt_options o = se_encrypt_options_default();
        o.random_iv = random_iv;
        o.compress = compress;
        se_bytes enc = {0}, dec = {0};
        CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)msg, strlen(msg), &o, &enc), SE_OK);
        CHECK(se_is_encrypted(ctx, enc.data, enc.len) == 1, "%s encrypted? ", ciphers[i]);
        se_header_info h;
        CHECK_STATUS(se_header(ctx, enc.data, enc.len, 0, &h), SE_OK);
        CHECK(h.present == 1 && h.version == 3 && h.compressed == compress, "%s header fields", ciphers[i]);
        CHECK(strcmp(h.cipher_name, "") == 0, "no cipher name in a value header");
        CHECK_STATUS(se_decrypt(ctx, enc.data, enc.len, &dec), SE_OK);
        CHECK(dec.len == strlen(msg) && memcmp(dec.data, msg, dec.len) == 0, "%s round trip", ciphers[i]);
        se_bytes_free(&dec);
        CHECK(dec.data == NULL, "se_bytes_free resets data");

        /* Tamper with one character in the middle of the base64. */
        enc.data[enc.len / 2] = enc.data[enc.len / 2] == 'A' ? 'B' : 'A';
        se_status st = se_decrypt(ctx, enc.data, enc.len, &dec);
        if (strstr(ciphers[i], "gcm"))
          CHECK(st == SE_ERROR_AUTHENTICATION, "%s tampered: status %d", ciphers[i], st);
        else
          CHECK(st == SE_OK || st == SE_ERROR_CIPHER, "%s tampered CBC: status %d", ciphers[i], st);
        CHECK(strstr(se_last_error(), "0123456789abcdef") == NULL, "key in message");
        se_bytes_free(&dec);
        se_bytes_free(&enc);
      }
    }
    /* Deterministic (no random iv): same output twice. */
    se_encrypt_options o = se_encrypt_options_default();
    o.random_iv = 0;
    se_bytes a = {0}, b = {0};
    se_encrypt(ctx, (const uint8_t *)msg, strlen(msg), &o, &a);
    se_encrypt(ctx, (const uint8_t *)msg, strlen(msg), &o, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "%s deterministic", ciphers[i]);
    se_bytes_free(&a);
    se_bytes_free(&b);
    /* Empty in, empty out. */
    se_bytes e = {0};
    CHECK_STATUS(se_encrypt(ctx, NULL, 0, NULL, &e), SE_OK);
    CHECK(e.len == 0 && e.data == NULL, "empty encrypts to empty");
    CHECK_STATUS(se_decrypt(ctx, (const uint8_t *)"", 0, &e), SE_OK);
    /* Unknown version in options, and in a header. */
    o.version = 9;
    CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)msg, strlen(msg), &o, &e), SE_ERROR_CIPHER);
    se_context *other = dev_context(ciphers[i], 7);
    se_bytes enc7 = {0};
    se_encrypt(other, (const uint8_t *)msg, strlen(msg), NULL, &enc7);
    CHECK_STATUS(se_decrypt(ctx, enc7.data, enc7.len, &e), SE_ERROR_CIPHER);
    CHECK(strstr(se_last_error(), "7") != NULL, "message names version 7: %s", se_last_error());
    se_bytes_free(&enc7);
    se_context_free(other);
    se_context_free(ctx);
  }
  /* Encoding errors: base16 with a non-hex character. */
  uint8_t key16[16] = {1};
  se_context *hex = NULL;
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", key16, 16, NULL, 0, 1, "base16", 1, &hex), SE_OK);
  se_bytes out = {0};
  CHECK_STATUS(se_decrypt(hex, (const uint8_t *)"40456e43zz", 10, &out), SE_ERROR_ENCODING);
  CHECK_STATUS(se_decode(hex, (const uint8_t *)"4x", 2, &out), SE_ERROR_ENCODING);
  CHECK_STATUS(se_encode(hex, (const uint8_t *)"\x01\xff", 2, &out), SE_OK);
  CHECK(out.len == 4 && memcmp(out.data, "01ff", 4) == 0, "base16 encode");
  se_bytes_free(&out);
  se_context_free(hex);
}

static void test_binary_and_combine(void) {
  se_context *a = dev_context("aes-256-gcm", 2), *b = dev_context("aes-128-cbc", 1);
  const se_context *list[2] = {a, b};
  se_context *both = NULL;
  CHECK_STATUS(se_context_combine(list, 2, 1, &both), SE_OK);
  CHECK(se_context_cipher_count(both) == 2, "combined count");
  CHECK(se_context_randomize_iv(both) == 1, "combined randomize_iv");
  se_cipher_info info;
  CHECK_STATUS(se_context_cipher_info(both, 1, &info), SE_OK);
  CHECK(info.version == 1 && strcmp(info.cipher_name, "aes-128-cbc") == 0 && info.authenticated == 0,
        "cipher_info of index 1");
  CHECK_STATUS(se_context_cipher_info(both, 2, &info), SE_ERROR_ARGUMENT);
  const se_context *dup[2] = {a, a};
  se_context *dup_ctx = NULL;
  /* Ciphers may share a version (SPEC section 5): combining succeeds, the first wins. */
  CHECK_STATUS(se_context_combine(dup, 2, -1, &dup_ctx), SE_OK);
  se_context_free(dup_ctx);
  /* A value written by b decrypts through the combined context, by its header's version. */
  se_bytes bin = {0}, dec = {0};
  CHECK_STATUS(se_encrypt_binary(b, (const uint8_t *)"abc", 3, NULL, &bin), SE_OK);
  CHECK(bin.len > 4 && memcmp(bin.data, "@EnC", 4) == 0, "binary value starts with the magic");
  CHECK_STATUS(se_decrypt_binary(both, bin.data, bin.len, -1, &dec), SE_OK);
  CHECK(dec.len == 3 && memcmp(dec.data, "abc", 3) == 0, "binary round trip");
  se_bytes_free(&dec);
  se_bytes_free(&bin);
  /* Header-less CBC value: needs the version. */
  se_encrypt_options o = se_encrypt_options_default();
  o.header = 0;
  o.random_iv = 0;
  CHECK_STATUS(se_encrypt(b, (const uint8_t *)"abc", 3, &o, &bin), SE_OK);
  CHECK_STATUS(se_decrypt_version(both, bin.data, bin.len, 1, &dec), SE_OK);
  CHECK(dec.len == 3, "decrypt_version of a header-less value");
  se_bytes_free(&dec);
  CHECK_STATUS(se_decrypt(both, bin.data, bin.len, &dec), SE_ERROR_CIPHER); /* primary is GCM */
  se_bytes_free(&bin);
  /* se_context_select: one cipher of a context, as a context of its own. */
  se_context *only_b = NULL;
  CHECK_STATUS(se_context_select(both, 1, &only_b), SE_OK);
  CHECK(se_context_cipher_count(only_b) == 1, "select count");
  CHECK_STATUS(se_context_cipher_info(only_b, 0, &info), SE_OK);
  CHECK(info.version == 1, "selected version");
  CHECK(se_context_randomize_iv(only_b) == 1, "select keeps randomize_iv");
  se_context_free(only_b);
  CHECK_STATUS(se_context_select(both, 5, &only_b), SE_ERROR_ARGUMENT);

  /* Batch calls: all or nothing, and the failing index. */
  se_slice in[3] = {{(const uint8_t *)"one", 3}, {(const uint8_t *)"two", 3}, {(const uint8_t *)"three", 5}};
  se_bytes encs[3], decs[3];
  size_t failed = 99;
  CHECK_STATUS(se_encrypt_many(both, in, 3, NULL, encs, &failed), SE_OK);
  se_slice back[3];
  for (int i = 0; i < 3; i++) back[i] = (se_slice){encs[i].data, encs[i].len};
  CHECK_STATUS(se_decrypt_many(both, back, 3, decs, &failed), SE_OK);
  CHECK(decs[2].len == 5 && memcmp(decs[2].data, "three", 5) == 0, "batch round trip");
  for (int i = 0; i < 3; i++) se_bytes_free(&decs[i]);
  back[1].len -= 2; /* truncate one value */
  CHECK(se_decrypt_many(both, back, 3, decs, &failed) != SE_OK && failed == 1, "batch failure index %zu", failed);
  CHECK(decs[0].data == NULL, "batch failure frees what it produced");
  for (int i = 0; i < 3; i++) se_bytes_free(&encs[i]);

  /* Caller-supplied buffers: too small reports the size needed. */
  uint8_t small[4], big[256];
  size_t need = 0;
  CHECK_STATUS(se_encrypt_into(both, (const uint8_t *)"abc", 3, NULL, small, sizeof small, &need), SE_ERROR_ARGUMENT);
  CHECK(need > 4, "size needed reported: %zu", need);
  size_t enc_len = 0, dec_len = 0;
  CHECK_STATUS(se_encrypt_into(both, (const uint8_t *)"abc", 3, NULL, big, sizeof big, &enc_len), SE_OK);
  CHECK(enc_len == need, "into length %zu == %zu", enc_len, need);
  uint8_t plain[16];
  CHECK_STATUS(se_decrypt_into(both, big, enc_len, plain, sizeof plain, &dec_len), SE_OK);
  CHECK(dec_len == 3 && memcmp(plain, "abc", 3) == 0, "decrypt_into");

  se_bytes rnd = {0};
  CHECK_STATUS(se_random_bytes(32, &rnd), SE_OK);
  CHECK(rnd.len == 32, "random bytes");
  se_bytes_free(&rnd);
  se_context_free(both);
  se_context_free(a);
  se_context_free(b);
}

/* Every case of the gem's strings.json decrypts to the recorded plaintext through the ABI. */
static void test_gem_values(void) {
  char *p = path_join(fixtures, "values.tsv");
  FILE *f = fopen(p, "r");
  free(p);
  CHECK(f != NULL, "values.tsv missing");
  if (!f) return;
  char line[1 << 20];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    char *fl[8];
    if (split_tabs(line, fl, 8) != 8) continue;
    uint8_t *key, *iv, *ct, *pt;
    size_t key_len = unhex(fl[1], &key), iv_len = unhex(fl[2], &iv);
    size_t ct_len = unhex(fl[6], &ct), pt_len = unhex(fl[7], &pt);
    se_context *ctx = NULL;
    CHECK_STATUS(se_context_new_cipher(fl[0], key, key_len, iv, iv_len, atoi(fl[3]), fl[4], atoi(fl[5]), &ctx), SE_OK);
    se_bytes out = {0};
    CHECK_STATUS(se_decrypt(ctx, ct, ct_len, &out), SE_OK);
    CHECK(out.len == pt_len && (pt_len == 0 || memcmp(out.data, pt, pt_len) == 0), "gem value %d (%s %s)", n, fl[0], fl[4]);
    se_bytes_free(&out);
    se_context_free(ctx);
    free(key); free(iv); free(ct); free(pt);
    n++;
  }
  fclose(f);
  CHECK(n == 364, "checked %d gem values, want 364", n);
  printf("gem values (strings.json): %d decrypted\n", n);
}

/* A configuration written by the gem (file keystore, KEK chain) through se_context_load. */
static void test_config_load(void) {
  char *dir = path_join(fixtures, "file_gcm_default");
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return;
  if (chdir(dir) != 0) { CHECK(0, "chdir %s", dir); free(dir); return; }
  const char *envs[] = {"development", "test", "release", "production"};
  for (int i = 0; i < 4; i++) {
    se_context *ctx = NULL;
    CHECK_STATUS(se_context_load("config/symmetric-encryption.yml", envs[i], &ctx), SE_OK);
    se_context_free(ctx);
  }
  FILE *f = fopen("samples.tsv", "r");
  char line[65536];
  int n = 0;
  while (f && fgets(line, sizeof line, f)) {
    char *fl[3];
    if (split_tabs(line, fl, 3) != 3) continue;
    se_context *ctx = NULL;
    CHECK_STATUS(se_context_load("config/symmetric-encryption.yml", fl[0], &ctx), SE_OK);
    uint8_t *ct, *pt;
    size_t ct_len = unhex(fl[1], &ct), pt_len = unhex(fl[2], &pt);
    se_bytes out = {0};
    CHECK_STATUS(se_decrypt(ctx, ct, ct_len, &out), SE_OK);
    CHECK(out.len == pt_len && (pt_len == 0 || memcmp(out.data, pt, pt_len) == 0), "config sample %d", n);
    se_bytes_free(&out);
    se_context_free(ctx);
    free(ct); free(pt);
    n++;
  }
  if (f) fclose(f);
  CHECK(n > 0, "no config samples");
  printf("config samples (file_gcm_default): %d decrypted\n", n);

  /* Defaults from the environment. */
  setenv("SYMMETRIC_ENCRYPTION_CONFIG", "config/symmetric-encryption.yml", 1);
  setenv("SYMMETRIC_ENCRYPTION_ENV", "production", 1);
  se_context *ctx = NULL;
  CHECK_STATUS(se_context_load(NULL, NULL, &ctx), SE_OK);
  se_context_free(ctx);
  unsetenv("SYMMETRIC_ENCRYPTION_CONFIG");
  unsetenv("SYMMETRIC_ENCRYPTION_ENV");

  /* Errors: missing file, unknown environment, key file with the wrong permissions. */
  ctx = NULL;
  CHECK_STATUS(se_context_load("config/no-such-file.yml", "production", &ctx), SE_ERROR_CONFIG);
  CHECK(strstr(se_last_error(), "no-such-file.yml") != NULL, "missing file named: %s", se_last_error());
  CHECK(ctx == NULL, "ctx stays NULL on failure");
  CHECK_STATUS(se_context_load("config/symmetric-encryption.yml", "staging", &ctx), SE_ERROR_CONFIG);
  CHECK(strstr(se_last_error(), "staging") != NULL, "environment named: %s", se_last_error());
  chmod("keys/my_app_production_v1.encrypted_key", 0644);
  CHECK_STATUS(se_context_load("config/symmetric-encryption.yml", "production", &ctx), SE_ERROR_KEYSTORE);
  CHECK(strstr(se_last_error(), "my_app_production_v1.encrypted_key") != NULL, "key file named: %s", se_last_error());
  chmod("keys/my_app_production_v1.encrypted_key", 0600);

  /* From YAML text. */
  const char *yaml =
      "test:\n  ciphers:\n    - key: '1234567890ABCDEF'\n      iv: '1234567890ABCDEF'\n      cipher_name: aes-128-cbc\n      version: 1\n";
  CHECK_STATUS(se_context_load_yaml(yaml, strlen(yaml), "test", &ctx), SE_OK);
  se_bytes out = {0};
  CHECK_STATUS(se_encrypt(ctx, (const uint8_t *)"x", 1, NULL, &out), SE_OK);
  se_bytes_free(&out);
  se_context_free(ctx);
  CHECK_STATUS(se_context_load_yaml("test: [unclosed", 15, "test", &ctx), SE_ERROR_CONFIG);
  if (chdir(cwd) != 0) CHECK(0, "chdir back");
  free(dir);
}

/* The pre-v4 RSA forms load unchanged (handwritten_legacy): private_rsa_key for the
 * environment, a PEM key_encrypting_key, encrypted_iv, iv_filename. */
static void test_legacy_rsa(void) {
  char *dir = path_join(fixtures, "handwritten_legacy");
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return;
  if (chdir(dir) != 0) { CHECK(0, "chdir %s", dir); free(dir); return; }
  FILE *f = fopen("samples.tsv", "r");
  char line[65536];
  int n = 0;
  while (f && fgets(line, sizeof line, f)) {
    char *fl[3];
    if (split_tabs(line, fl, 3) != 3) continue;
    se_context *ctx = NULL;
    CHECK_STATUS(se_context_load("config/symmetric-encryption.yml", fl[0], &ctx), SE_OK);
    if (!ctx) continue;
    uint8_t *ct, *pt;
    size_t ct_len = unhex(fl[1], &ct), pt_len = unhex(fl[2], &pt);
    se_bytes out = {0};
    CHECK_STATUS(se_decrypt(ctx, ct, ct_len, &out), SE_OK);
    CHECK(out.len == pt_len && (pt_len == 0 || memcmp(out.data, pt, pt_len) == 0), "RSA sample %d", n);
    se_bytes_free(&out);
    se_context_free(ctx);
    free(ct); free(pt);
    n++;
  }
  if (f) fclose(f);
  CHECK(n > 0, "no RSA samples");
  printf("pre-v4 RSA samples (handwritten_legacy): %d decrypted\n", n);
  if (chdir(cwd) != 0) CHECK(0, "chdir back");
  free(dir);
}

/* Entries may share a version (SPEC section 5): the file loads, version lookup takes the first
 * entry with it in file order, and the primary encrypts. */
static void test_shared_versions(void) {
  const char *yaml =
      "test:\n  ciphers:\n"
      "    - {key: '1234567890ABCDEF', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 2}\n"
      "    - {key: 'BBBBBBBBBBBBBBBB', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}\n"
      "    - {key: 'CCCCCCCCCCCCCCCC', iv: '1234567890ABCDEF', cipher_name: aes-128-cbc, version: 1}\n";
  se_context *ctx = NULL, *first = NULL, *second = NULL;
  CHECK_STATUS(se_context_load_yaml(yaml, strlen(yaml), "test", &ctx), SE_OK);
  if (!ctx) return;
  CHECK(se_context_cipher_count(ctx) == 3, "three entries: %zu", se_context_cipher_count(ctx));
  const uint8_t iv[16] = "1234567890ABCDEF";
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", (const uint8_t *)"BBBBBBBBBBBBBBBB", 16, iv, 16, 1, NULL, -1, &first), SE_OK);
  CHECK_STATUS(se_context_new_cipher("aes-128-cbc", (const uint8_t *)"CCCCCCCCCCCCCCCC", 16, iv, 16, 1, NULL, -1, &second), SE_OK);
  const uint8_t *pt = (const uint8_t *)"shared version";
  size_t pt_len = strlen((const char *)pt);

  /* The primary (version 2) encrypts. */
  se_bytes out = {0};
  se_header_info h;
  CHECK_STATUS(se_encrypt(ctx, pt, pt_len, NULL, &out), SE_OK);
  CHECK_STATUS(se_header(ctx, out.data, out.len, 0, &h), SE_OK);
  CHECK(h.present && h.version == 2, "primary encrypts: version %d", h.version);
  se_bytes_free(&out);

  /* version 1 selects the first entry with it: byte for byte what that key alone writes. */
  se_encrypt_options o = se_encrypt_options_default();
  o.version = 1;
  o.random_iv = 0;
  se_bytes a = {0}, b = {0}, c = {0};
  CHECK_STATUS(se_encrypt(ctx, pt, pt_len, &o, &a), SE_OK);
  o.version = -1;
  CHECK_STATUS(se_encrypt(first, pt, pt_len, &o, &b), SE_OK);
  CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "version 1 is the first entry with it");
  /* A version-1 value of the later entry is never selected: it does not decrypt. */
  CHECK_STATUS(se_encrypt(second, pt, pt_len, &o, &c), SE_OK);
  se_bytes d = {0};
  CHECK_STATUS(se_decrypt(ctx, b.data, b.len, &d), SE_OK);
  CHECK(d.len == pt_len && memcmp(d.data, pt, pt_len) == 0, "first entry's value decrypts");
  se_bytes_free(&d);
  se_status st = se_decrypt(ctx, c.data, c.len, &d);
  CHECK(st != SE_OK || d.len != pt_len || memcmp(d.data, pt, pt_len) != 0,
        "the later entry with the same version is not selected");
  se_bytes_free(&d);
  se_bytes_free(&a); se_bytes_free(&b); se_bytes_free(&c);
  se_context_free(first); se_context_free(second); se_context_free(ctx);
}

/* ---- streams ------------------------------------------------------------------------ */

static se_context *files_context(void) {
  char *cfg = path_join(fixtures, "files/config/symmetric-encryption.yml");
  se_context *ctx = NULL;
  se_status st = se_context_load(cfg, "cbc_primary", &ctx);
  CHECK(st == SE_OK, "load files config");
  free(cfg);
  return ctx;
}

static void test_gem_files(void) {
  se_context *ctx = files_context();
  if (!ctx) return;
  char *list = path_join(fixtures, "files/files.tsv");
  FILE *f = fopen(list, "r");
  free(list);
  char line[4096];
  int n = 0;
  while (f && fgets(line, sizeof line, f)) {
    char *fl[3];
    if (split_tabs(line, fl, 3) != 3) continue;
    char *enc = path_join(fixtures, "files"), *encp = path_join(enc, fl[0]), *plainp = path_join(enc, fl[1]);
    size_t plain_len = 0;
    uint8_t *plain = read_file(plainp, &plain_len);
    int version = atoi(fl[2]);
    se_reader *r = NULL;
    CHECK_STATUS(se_reader_open_path(ctx, encp, version, &r), SE_OK);
    uint8_t *got = malloc(plain_len + 4096);
    size_t total = 0, nread = 0;
    se_status st;
    while ((st = se_reader_read(r, got + total, 1000, &nread)) == SE_OK && nread > 0) total += nread;
    CHECK(st == SE_OK, "read %s", fl[0]);
    CHECK(total == plain_len && memcmp(got, plain, total) == 0, "gem file %s: %zu bytes, want %zu", fl[0], total, plain_len);
    se_reader_free(r);
    if (version < 0) {
      char target[256];
      snprintf(target, sizeof target, "/tmp/se-ctest-%d.out", getpid());
      CHECK_STATUS(se_decrypt_file(ctx, encp, target), SE_OK);
      size_t out_len = 0;
      uint8_t *out = read_file(target, &out_len);
      CHECK(out && out_len == plain_len && memcmp(out, plain, out_len) == 0, "se_decrypt_file %s", fl[0]);
      free(out);
      unlink(target);
    }
    free(got); free(plain); free(enc); free(encp); free(plainp);
    n++;
  }
  if (f) fclose(f);
  CHECK(n >= 20, "checked %d gem files", n);
  printf("gem files (files/): %d decrypted\n", n);
  se_context_free(ctx);
}

struct membuf { uint8_t *data; size_t len, cap, pos; int fail_after; };

static int64_t mem_write(void *user, const uint8_t *data, size_t len) {
  struct membuf *m = user;
  if (m->fail_after >= 0 && m->len + len > (size_t)m->fail_after) return -1;
  if (m->len + len > m->cap) {
    m->cap = (m->len + len) * 2;
    m->data = realloc(m->data, m->cap);
  }
  memcpy(m->data + m->len, data, len);
  m->len += len;
  return (int64_t)len;
}

static int64_t mem_read(void *user, uint8_t *buf, size_t cap) {
  struct membuf *m = user;
  size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
  memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return (int64_t)n;
}

static int64_t mem_seek(void *user, int64_t offset, int32_t whence) {
  struct membuf *m = user;
  int64_t base = whence == 0 ? 0 : whence == 1 ? (int64_t)m->pos : (int64_t)m->len;
  if (base + offset < 0) return -1;
  m->pos = (size_t)(base + offset);
  return (int64_t)m->pos;
}

static void test_stream_callbacks(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  size_t n = 300000;
  uint8_t *data = malloc(n);
  for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 31 + i / 7);
  struct membuf m = {NULL, 0, 0, 0, -1};
  se_stream_options o = se_stream_options_default();
  o.compress = 0;
  o.chunk_size = 4096;
  se_writer *w = NULL;
  CHECK_STATUS(se_writer_open_callbacks(ctx, mem_write, &m, &o, &w), SE_OK);
  for (size_t off = 0; off < n; off += 10000) CHECK_STATUS(se_writer_write(w, data + off, off + 10000 > n ? n - off : 10000), SE_OK);
  CHECK_STATUS(se_writer_close(w), SE_OK);
  se_writer_free(w);

  se_reader *r = NULL;
  m.pos = 0;
  CHECK_STATUS(se_reader_open_callbacks(ctx, mem_read, mem_seek, &m, -1, &r), SE_OK);
  uint64_t size = 0;
  CHECK_STATUS(se_reader_size(r, &size), SE_OK);
  CHECK(size == n, "stream size %llu", (unsigned long long)size);
  se_header_info h;
  CHECK_STATUS(se_reader_header(r, &h), SE_OK);
  CHECK(h.present && h.chunk_size == 4096 && h.has_key, "stream header");
  uint64_t offsets[] = {0, 100, 4095, 4096, 150001, n - 1, n - 10};
  for (int i = 0; i < 7; i++) {
    uint64_t pos = 0;
    CHECK_STATUS(se_reader_seek(r, (int64_t)offsets[i], 0, &pos), SE_OK);
    uint8_t buf[8] = {0};
    size_t nread = 0, got = 0;
    /* A read may return fewer bytes than asked (at a chunk's end): read until 8 or the end. */
    do {
      CHECK_STATUS(se_reader_read(r, buf + nread, 8 - nread, &got), SE_OK);
      nread += got;
    } while (got > 0 && nread < 8);
    size_t want = n - offsets[i] < 8 ? n - offsets[i] : 8;
    CHECK(pos == offsets[i] && nread == want && memcmp(buf, data + offsets[i], nread) == 0, "seek to %llu", (unsigned long long)offsets[i]);
  }
  size_t nread = 1;
  CHECK_STATUS(se_reader_seek(r, (int64_t)n + 5, 0, NULL), SE_OK);
  CHECK_STATUS(se_reader_read(r, (uint8_t[4]){0}, 4, &nread), SE_OK);
  CHECK(nread == 0, "read past the end gives 0");
  se_reader_free(r);

  /* A flipped byte in the middle: authentication error. */
  m.data[m.len / 2] ^= 1;
  m.pos = 0;
  r = NULL;
  CHECK_STATUS(se_reader_open_callbacks(ctx, mem_read, NULL, &m, -1, &r), SE_OK);
  uint8_t buf[65536];
  se_status st;
  while ((st = se_reader_read(r, buf, sizeof buf, &nread)) == SE_OK && nread > 0) {}
  CHECK(st == SE_ERROR_AUTHENTICATION, "tampered stream: status %d", st);
  se_reader_free(r);

  /* A write callback that fails: I/O error. */
  struct membuf bad = {NULL, 0, 0, 0, 10};
  CHECK_STATUS(se_writer_open_callbacks(ctx, mem_write, &bad, &o, &w), SE_OK);
  st = se_writer_write(w, data, n);
  if (st == SE_OK) st = se_writer_close(w);
  CHECK(st == SE_ERROR_IO, "failing write callback: status %d", st);
  se_writer_free(w);
  free(bad.data);
  free(m.data);
  free(data);
  se_context_free(ctx);
}

static void test_stream_files(void) {
  se_context *ctx = dev_context("aes-256-cbc", 1);
  char src[256], enc[256], dec[256];
  snprintf(src, sizeof src, "/tmp/se-ctest-%d.txt", getpid());
  snprintf(enc, sizeof enc, "/tmp/se-ctest-%d.enc", getpid());
  snprintf(dec, sizeof dec, "/tmp/se-ctest-%d.dec", getpid());
  const char *text = "line one\nline two\n";
  write_file(src, text, strlen(text));
  CHECK_STATUS(se_encrypt_file(ctx, src, enc, -1, -1), SE_OK);
  CHECK_STATUS(se_decrypt_file(ctx, enc, dec), SE_OK);
  size_t len = 0;
  uint8_t *out = read_file(dec, &len);
  CHECK(out && len == strlen(text) && memcmp(out, text, len) == 0, "file round trip");
  free(out);
  unlink(dec);
  CHECK_STATUS(se_encrypt_file(ctx, "/nonexistent/x", enc, -1, -1), SE_ERROR_IO);
  CHECK_STATUS(se_encrypt_file(ctx, src, enc, 5, -1), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_encrypt_file(ctx, src, enc, -1, 9), SE_ERROR_CIPHER);

  /* A header-less CBC stream (no random key or iv): readable with the version. */
  se_stream_options plain_opts = se_stream_options_default();
  plain_opts.header = 0;
  plain_opts.random_key = 0;
  plain_opts.random_iv = 0;
  plain_opts.compress = 0;
  se_writer *hw = NULL;
  CHECK_STATUS(se_writer_open_path(ctx, enc, &plain_opts, &hw), SE_OK);
  CHECK_STATUS(se_writer_write(hw, (const uint8_t *)text, strlen(text)), SE_OK);
  CHECK_STATUS(se_writer_close(hw), SE_OK);
  CHECK_STATUS(se_writer_write(hw, (const uint8_t *)"x", 1), SE_ERROR_ARGUMENT); /* closed */
  se_writer_free(hw);
  se_reader *hr = NULL;
  CHECK_STATUS(se_reader_open_path(ctx, enc, 1, &hr), SE_OK);
  se_header_info hi;
  CHECK_STATUS(se_reader_header(hr, &hi), SE_OK);
  CHECK(hi.present == 0, "header-less stream");
  uint8_t hb[64];
  size_t hn = 0;
  size_t got = 0;
  do {
    CHECK_STATUS(se_reader_read(hr, hb + hn, sizeof hb - hn, &got), SE_OK);
    hn += got;
  } while (got > 0);
  CHECK(hn == strlen(text) && memcmp(hb, text, hn) == 0, "header-less stream reads back");
  se_reader_free(hr);
  plain_opts.random_iv = 1; /* random key without random iv is refused */
  plain_opts.random_key = 1;
  plain_opts.random_iv = 0;
  CHECK_STATUS(se_writer_open_path(ctx, enc, &plain_opts, &hw), SE_ERROR_ARGUMENT);

  /* A writer freed without close leaves nothing at the target. */
  char abandoned[256];
  snprintf(abandoned, sizeof abandoned, "/tmp/se-ctest-%d.abandoned", getpid());
  se_writer *w = NULL;
  CHECK_STATUS(se_writer_open_path(ctx, abandoned, NULL, &w), SE_OK);
  CHECK_STATUS(se_writer_write(w, (const uint8_t *)"abc", 3), SE_OK);
  se_writer_free(w);
  CHECK(!file_exists(abandoned), "abandoned writer left a file");

  /* A failed decrypt leaves nothing at the target (GCM stream, tampered). */
  se_context *gcm = dev_context("aes-256-gcm", 1);
  CHECK_STATUS(se_encrypt_file(gcm, src, enc, 0, -1), SE_OK);
  size_t enc_len = 0;
  uint8_t *e = read_file(enc, &enc_len);
  e[enc_len - 1] ^= 1;
  write_file(enc, e, enc_len);
  free(e);
  CHECK_STATUS(se_decrypt_file(gcm, enc, dec), SE_ERROR_AUTHENTICATION);
  CHECK(!file_exists(dec), "failed decrypt left a file at the target");
  se_context_free(gcm);
  unlink(src);
  unlink(enc);
  se_context_free(ctx);
}

/* Random ivs come from a per-thread pool: a forked child must not reuse the parent's bytes
 * (two processes with one GCM key and one iv would reuse a nonce). */
static void test_fork_random_ivs(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  se_encrypt_options o = se_encrypt_options_default();
  o.random_iv = 1;
  se_bytes warm = {0};
  se_encrypt_binary(ctx, (const uint8_t *)"warm the pool", 13, &o, &warm); /* fill the pool */
  se_bytes_free(&warm);
  int fds[2];
  if (pipe(fds) != 0) { CHECK(0, "pipe"); return; }
  pid_t pid = fork();
  if (pid == 0) {
    se_bytes v = {0};
    se_encrypt_binary(ctx, (const uint8_t *)"same", 4, &o, &v);
    ssize_t w = write(fds[1], v.data + 8, 12); /* the iv follows "@EnC", version, flags, u16 length */
    _exit(w == 12 ? 0 : 1);
  }
  se_bytes mine = {0};
  se_encrypt_binary(ctx, (const uint8_t *)"same", 4, &o, &mine);
  uint8_t child_iv[12] = {0};
  ssize_t r = read(fds[0], child_iv, 12);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(r == 12 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child wrote its iv");
  CHECK(memcmp(child_iv, mine.data + 8, 12) != 0, "parent and child drew the same random iv after fork");
  se_bytes_free(&mine);
  close(fds[0]);
  close(fds[1]);
  se_context_free(ctx);
}

/* ---- threads -------------------------------------------------------------------------- */

struct thread_arg { const se_context *ctx; int id, iters, errors; };

static void *thread_main(void *p) {
  struct thread_arg *a = p;
  char msg[64];
  for (int i = 0; i < a->iters; i++) {
    int len = snprintf(msg, sizeof msg, "thread %d value %d", a->id, i);
    se_bytes enc = {0}, dec = {0};
    se_encrypt_options o = se_encrypt_options_default();
    o.random_iv = i & 1;
    if (se_encrypt(a->ctx, (const uint8_t *)msg, (size_t)len, &o, &enc) != SE_OK ||
        se_decrypt(a->ctx, enc.data, enc.len, &dec) != SE_OK || dec.len != (size_t)len ||
        memcmp(dec.data, msg, (size_t)len) != 0)
      a->errors++;
    if (i == a->iters / 2) {
      /* The last error is per thread: a failure here must not leak into other threads. */
      se_bytes_free(&dec);
      se_decrypt(a->ctx, (const uint8_t *)"QEVuQwEA", 8, &dec);
      if (strlen(se_last_error()) == 0) a->errors++;
    }
    se_bytes_free(&enc);
    se_bytes_free(&dec);
  }
  return NULL;
}

static void test_threads(void) {
  const char *env = getenv("SE_TEST_THREAD_ITERS");
  int iters = env ? atoi(env) : 20000;
  se_context *ctx = dev_context("aes-256-gcm", 1);
  pthread_t t[8];
  struct thread_arg args[8];
  for (int i = 0; i < 8; i++) {
    args[i] = (struct thread_arg){ctx, i, iters, 0};
    pthread_create(&t[i], NULL, thread_main, &args[i]);
  }
  int errors = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    errors += args[i].errors;
  }
  CHECK(errors == 0, "%d errors in 8 threads", errors);
  printf("threads: 8 x %d checked encrypt/decrypt pairs on one context\n", iters);
  se_context_free(ctx);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  fixtures = argv[1];
  test_version_and_defaults();
  test_free_functions_accept_null();
  test_null_and_bad_arguments();
  test_round_trip_and_errors();
  test_binary_and_combine();
  test_gem_values();
  test_config_load();
  test_shared_versions();
  test_legacy_rsa();
  test_gem_files();
  test_stream_callbacks();
  test_stream_files();
  test_fork_random_ivs();
  test_threads();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
