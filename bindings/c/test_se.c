/*
 * The C test suite of the symmetric-encryption C ABI. It uses the library as a C user would:
 * only include/symmetric_encryption.h. Built against the shared and the static library by
 * bindings/c/run-tests, and run under valgrind memcheck there.
 *
 * Usage: test_se FIXTURES_DIR   (made by gen_fixtures.py from tests/vectors)
 * Environment: SE_TEST_THREAD_ITERS (default 20000) pairs per thread in the thread test;
 * SE_TEST_NO_BOMB=1 skips the 64 MiB decompression-bomb check (slow under valgrind).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symmetric_encryption.h"

#include "test_util.h"

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
static void check_gem_value(const struct gem_value *v, int n, void *user) {
  (void)user;
  se_bytes out = {0};
  CHECK_STATUS(se_decrypt(v->ctx, v->ct, v->ct_len, &out), SE_OK);
  CHECK(out.len == v->pt_len && (v->pt_len == 0 || memcmp(out.data, v->pt, v->pt_len) == 0),
        "gem value %d (%s %s)", n, v->cipher, v->encoding);
  se_bytes_free(&out);
}

static void test_gem_values(void) {
  int n = for_each_gem_value(0, check_gem_value, NULL);
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

/* Targets that are not regular files are written in place, never replaced (issue 14, item 3);
 * new plaintext files are 0600, existing ones keep their mode without setuid/setgid; a planted
 * symbolic link is replaced, not followed; se_reader_copy_to_file writes atomically. */
static int is_chr(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

static mode_t mode_of(const char *p) {
  struct stat st;
  return lstat(p, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static void test_file_targets(void) {
  se_context *gcm = dev_context("aes-256-gcm", 1);
  char dir[] = "/tmp/se-ctest-targets-XXXXXX";
  if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
  char *src = path_join(dir, "plain"), *enc = path_join(dir, "secret.enc");
  size_t n = 200000;
  uint8_t *plain = malloc(n);
  for (size_t i = 0; i < n; i++) plain[i] = (uint8_t)(i * 7 % 251);
  write_file(src, plain, n);
  CHECK_STATUS(se_encrypt_file(gcm, src, enc, 0, -1), SE_OK);

  /* A character device of our own (as root), else only /dev/null through a link. */
  char *node = path_join(dir, "null");
  if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) == 0) {
    CHECK_STATUS(se_decrypt_file(gcm, enc, node), SE_OK);
    CHECK(is_chr(node), "se_decrypt_file replaced a character device");
    CHECK_STATUS(se_encrypt_file(gcm, src, node, -1, -1), SE_OK);
    CHECK(is_chr(node), "se_encrypt_file replaced a character device");
    se_writer *w = NULL;
    CHECK_STATUS(se_writer_open_path(gcm, node, NULL, &w), SE_OK);
    CHECK_STATUS(se_writer_write(w, plain, 1000), SE_OK);
    CHECK_STATUS(se_writer_close(w), SE_OK);
    se_writer_free(w);
    CHECK(is_chr(node), "a path writer replaced a character device");
  }
  char *link_null = path_join(dir, "to-null");
  CHECK(symlink("/dev/null", link_null) == 0, "symlink");
  CHECK_STATUS(se_decrypt_file(gcm, enc, link_null), SE_OK);
  struct stat st;
  CHECK(lstat(link_null, &st) == 0 && S_ISLNK(st.st_mode), "the link to /dev/null was replaced");
  CHECK(is_chr("/dev/null"), "/dev/null is still a device");

  /* A FIFO: a child process reads it while the library writes. */
  char *fifo = path_join(dir, "pipe");
  CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
  pid_t pid = fork();
  if (pid == 0) {
    /* exec, so that under valgrind the child is not a copy of this process (whose heap,
       reported at its exit, would look leaked). */
    execl("/bin/sh", "sh", "-c", "test \"$(wc -c < \"$1\")\" -eq 200000", "sh", fifo, (char *)NULL);
    _exit(127);
  }
  CHECK_STATUS(se_decrypt_file(gcm, enc, fifo), SE_OK);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the FIFO's reader got the plaintext");
  CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");

  /* A directory is refused with a message saying so. */
  CHECK_STATUS(se_decrypt_file(gcm, enc, dir), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "is a directory") != NULL, "directory message: %s", se_last_error());

  /* Modes: new 0600; existing keeps its bits minus setuid/setgid; a link is replaced. */
  char *out = path_join(dir, "out");
  CHECK_STATUS(se_decrypt_file(gcm, enc, out), SE_OK);
  CHECK(mode_of(out) == 0600, "new plaintext file mode %o", (unsigned)mode_of(out));
  chmod(out, 06750);
  CHECK_STATUS(se_decrypt_file(gcm, enc, out), SE_OK);
  CHECK(mode_of(out) == 0750, "copied mode %o", (unsigned)mode_of(out));
  char *victim = path_join(dir, "victim"), *planted = path_join(dir, "planted");
  write_file(victim, "untouched", 9);
  chmod(victim, 0666);
  CHECK(symlink(victim, planted) == 0, "symlink");
  CHECK_STATUS(se_decrypt_file(gcm, enc, planted), SE_OK);
  size_t vlen = 0;
  uint8_t *v = read_file(victim, &vlen);
  CHECK(v && vlen == 9 && memcmp(v, "untouched", 9) == 0, "the planted link was followed");
  free(v);
  CHECK(mode_of(planted) == 0600, "replaced link mode %o", (unsigned)mode_of(planted));

  /* se_reader_copy_to_file: whole stream or nothing. */
  se_reader *r = NULL;
  char *copy = path_join(dir, "copy");
  CHECK_STATUS(se_reader_open_path(gcm, enc, -1, &r), SE_OK);
  uint64_t written = 0;
  CHECK_STATUS(se_reader_copy_to_file(r, copy, &written), SE_OK);
  CHECK(written == n && mode_of(copy) == 0600, "copy_to_file wrote %llu bytes", (unsigned long long)written);
  se_reader_free(r);
  size_t elen = 0;
  uint8_t *e = read_file(enc, &elen);
  e[elen - 1000] ^= 1;
  char *bad = path_join(dir, "bad.enc"), *copy2 = path_join(dir, "copy2");
  write_file(bad, e, elen);
  free(e);
  CHECK_STATUS(se_reader_open_path(gcm, bad, -1, &r), SE_OK);
  CHECK_STATUS(se_reader_copy_to_file(r, copy2, &written), SE_ERROR_AUTHENTICATION);
  CHECK(!file_exists(copy2), "a tampered stream left plaintext");
  se_reader_free(r);
  CHECK_STATUS(se_reader_copy_to_file(NULL, copy2, NULL), SE_ERROR_ARGUMENT);

  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0, "cleanup");
  free(src); free(enc); free(plain); free(node); free(link_null); free(fifo); free(out);
  free(victim); free(planted); free(copy); free(bad); free(copy2);
  se_context_free(gcm);
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

/* ---- issue 14: limits and failed operations ------------------------------------------- */

/* Reads a reader to its end (or its first error) into a new buffer. */
static se_status read_all(se_reader *r, uint8_t **out, size_t *len) {
  size_t cap = 65536, n = 0, got = 0;
  uint8_t *b = malloc(cap);
  se_status st;
  for (;;) {
    if (cap - n < 4096) b = realloc(b, cap *= 2);
    st = se_reader_read(r, b + n, cap - n, &got);
    if (st != SE_OK || got == 0) break;
    n += got;
  }
  *out = b;
  *len = n;
  return st;
}

/* A compressed value inflates at most to the context's limit (64 MiB by default). */
static void test_decompression_limit(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  CHECK(se_context_max_decompressed_size(ctx) == 67108864ull, "default limit %llu",
        (unsigned long long)se_context_max_decompressed_size(ctx));
  CHECK(se_context_max_decompressed_size(NULL) == 0, "limit of NULL");
  size_t n = 1 << 20;
  uint8_t *plain = malloc(n);
  memset(plain, 'a', n);
  se_encrypt_options o = se_encrypt_options_default();
  o.compress = 1;
  se_bytes enc = {0}, bin = {0}, dec = {0};
  CHECK_STATUS(se_encrypt(ctx, plain, n, &o, &enc), SE_OK);
  CHECK_STATUS(se_encrypt_binary(ctx, plain, n, &o, &bin), SE_OK);
  CHECK(enc.len < 10000, "1 MiB of one byte compresses to %zu", enc.len);

  se_context *small = NULL;
  CHECK_STATUS(se_context_with_max_decompressed_size(ctx, 65536, &small), SE_OK);
  CHECK(se_context_max_decompressed_size(small) == 65536, "new limit");
  CHECK(se_context_max_decompressed_size(ctx) == 67108864ull, "the original is unchanged");
  CHECK_STATUS(se_decrypt(small, enc.data, enc.len, &dec), SE_ERROR_CIPHER);
  CHECK(strstr(se_last_error(), "64 KiB") && strstr(se_last_error(), "se_context_with_max_decompressed_size"),
        "message names the limit and how to raise it: %s", se_last_error());
  CHECK(dec.data == NULL && dec.len == 0, "no output past the limit");
  CHECK_STATUS(se_decrypt_version(small, enc.data, enc.len, -1, &dec), SE_ERROR_CIPHER);
  CHECK_STATUS(se_decrypt_binary(small, bin.data, bin.len, -1, &dec), SE_ERROR_CIPHER);
  se_slice in = {enc.data, enc.len};
  se_bytes outs[1];
  size_t failed_at = 9;
  CHECK_STATUS(se_decrypt_many(small, &in, 1, outs, &failed_at), SE_ERROR_CIPHER);
  CHECK(failed_at == 0, "decrypt_many names the value");
  CHECK_STATUS(se_decrypt(ctx, enc.data, enc.len, &dec), SE_OK);
  CHECK(dec.len == n && memcmp(dec.data, plain, n) == 0, "within the default limit");
  se_bytes_free(&dec);

  /* Derived contexts keep the limit; a limit of 0 is refused. */
  se_context *sel = NULL, *comb = NULL, *zero = (se_context *)1;
  CHECK_STATUS(se_context_select(small, 0, &sel), SE_OK);
  CHECK(se_context_max_decompressed_size(sel) == 65536, "select keeps the limit");
  const se_context *list[1] = {small};
  CHECK_STATUS(se_context_combine(list, 1, -1, &comb), SE_OK);
  CHECK(se_context_max_decompressed_size(comb) == 65536, "combine keeps the limit");
  CHECK_STATUS(se_context_with_max_decompressed_size(ctx, 0, &zero), SE_ERROR_ARGUMENT);
  CHECK(zero == NULL, "out is NULL after a failure");
  CHECK_STATUS(se_context_with_max_decompressed_size(NULL, 10, &zero), SE_ERROR_ARGUMENT);
  se_context_free(sel);
  se_context_free(comb);

  /* se_decrypt_into writes at most out_cap bytes, wipes them when the plaintext does not fit,
   * and reports the size needed. */
  size_t cap = 1000, len = 0;
  uint8_t *buf = malloc(2 * cap);
  memset(buf, 0xAA, 2 * cap);
  CHECK_STATUS(se_decrypt_into(ctx, enc.data, enc.len, buf, cap, &len), SE_ERROR_ARGUMENT);
  CHECK(len == n, "size needed %zu", len);
  int wiped = 1, untouched = 1;
  for (size_t i = 0; i < cap; i++) wiped &= buf[i] == 0;
  for (size_t i = cap; i < 2 * cap; i++) untouched &= buf[i] == 0xAA;
  CHECK(wiped, "the part written is wiped");
  CHECK(untouched, "nothing written past out_cap");
  CHECK_STATUS(se_decrypt_into(small, enc.data, enc.len, buf, cap, &len), SE_ERROR_CIPHER);
  CHECK(len == 0, "out_len 0 past the limit");
  CHECK_STATUS(se_decrypt_into(ctx, enc.data, enc.len, NULL, 5, &len), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_decrypt_into(ctx, enc.data, enc.len, NULL, 0, &len), SE_ERROR_ARGUMENT);
  CHECK(len == n, "size needed with no buffer");
  uint8_t *big = malloc(n);
  CHECK_STATUS(se_decrypt_into(ctx, enc.data, enc.len, big, n, &len), SE_OK);
  CHECK(len == n && memcmp(big, plain, n) == 0, "decrypt_into round trip");
  free(big);
  free(buf);

  /* The default limit: a value that inflates to just over 64 MiB is refused. */
  size_t bomb_len = getenv("SE_TEST_NO_BOMB") ? 0 : (64u << 20) + 1;
  uint8_t *zeros = bomb_len ? calloc(bomb_len, 1) : NULL;
  se_bytes bomb = {0};
  if (bomb_len) {
    CHECK_STATUS(se_encrypt(ctx, zeros, bomb_len, &o, &bomb), SE_OK);
    free(zeros);
    CHECK(bomb.len < 200000, "the bomb is %zu bytes", bomb.len);
    CHECK_STATUS(se_decrypt(ctx, bomb.data, bomb.len, &dec), SE_ERROR_CIPHER);
    CHECK(strstr(se_last_error(), "64 MiB") != NULL, "message names 64 MiB: %s", se_last_error());
    se_context *bigger = NULL;
    CHECK_STATUS(se_context_with_max_decompressed_size(ctx, 65u << 20, &bigger), SE_OK);
    CHECK_STATUS(se_decrypt(bigger, bomb.data, bomb.len, &dec), SE_OK);
    CHECK(dec.len == bomb_len, "raised limit decrypts it");
    se_bytes_free(&dec);
    se_context_free(bigger);
    se_bytes_free(&bomb);
  }

  se_bytes_free(&enc);
  se_bytes_free(&bin);
  free(plain);
  se_context_free(small);
  se_context_free(ctx);
}

/* Readers and se_decrypt_file take an optional output limit. */
static void test_stream_output_limit(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  size_t n = 300000;
  uint8_t *data = calloc(n, 1);
  struct membuf m = {NULL, 0, 0, 0, -1};
  se_stream_options o = se_stream_options_default();
  o.compress = 1;
  se_writer *w = NULL;
  CHECK_STATUS(se_writer_open_callbacks(ctx, mem_write, &m, &o, &w), SE_OK);
  CHECK_STATUS(se_writer_write(w, data, n), SE_OK);
  CHECK_STATUS(se_writer_close(w), SE_OK);
  se_writer_free(w);

  se_reader *r = NULL;
  CHECK_STATUS(se_reader_open_callbacks(ctx, mem_read, mem_seek, &m, -1, &r), SE_OK);
  CHECK_STATUS(se_reader_set_max_output(r, 1000), SE_OK);
  uint8_t *out = NULL;
  size_t len = 0;
  CHECK_STATUS(read_all(r, &out, &len), SE_ERROR_CIPHER);
  CHECK(len == 1000, "handed out %zu bytes, the limit is 1000", len);
  CHECK(strstr(se_last_error(), "1000 bytes") && strstr(se_last_error(), "se_reader_set_max_output"),
        "message: %s", se_last_error());
  free(out);
  CHECK_STATUS(se_reader_set_max_output(r, 0), SE_OK);
  CHECK_STATUS(se_reader_seek(r, 0, 0, NULL), SE_OK);
  CHECK_STATUS(read_all(r, &out, &len), SE_OK);
  CHECK(len == n, "no limit: all %zu bytes", len);
  free(out);
  CHECK_STATUS(se_reader_set_max_output(r, n), SE_OK);
  CHECK_STATUS(se_reader_seek(r, 0, 0, NULL), SE_OK);
  CHECK_STATUS(read_all(r, &out, &len), SE_OK);
  CHECK(len == n, "a limit of exactly the size reads it all");
  free(out);
  CHECK_STATUS(se_reader_set_max_output(NULL, 5), SE_ERROR_ARGUMENT);
  se_reader_free(r);

  char src[256], enc[256], dec[256];
  snprintf(src, sizeof src, "/tmp/se-ctest-limit-%d.txt", getpid());
  snprintf(enc, sizeof enc, "/tmp/se-ctest-limit-%d.enc", getpid());
  snprintf(dec, sizeof dec, "/tmp/se-ctest-limit-%d.dec", getpid());
  write_file(src, data, n);
  CHECK_STATUS(se_encrypt_file(ctx, src, enc, 1, -1), SE_OK);
  CHECK_STATUS(se_decrypt_file_max_output(ctx, enc, dec, 4096), SE_ERROR_CIPHER);
  CHECK(!file_exists(dec), "nothing at the target past the limit");
  CHECK_STATUS(se_decrypt_file_max_output(ctx, enc, dec, 0), SE_OK);
  CHECK_STATUS(se_decrypt_file_max_output(ctx, enc, dec, n), SE_OK);
  out = read_file(dec, &len);
  CHECK(out && len == n, "decrypt_file within the limit");
  free(out);
  unlink(src);
  unlink(enc);
  unlink(dec);
  free(m.data);
  free(data);
  se_context_free(ctx);
}

/* A seek the source cannot do (no seek callback) leaves the reader as it was. */
static void test_failed_seek_leaves_reader(void) {
  se_context *ctx = dev_context("aes-256-gcm", 1);
  size_t n = 20000;
  uint8_t *data = malloc(n);
  for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7 + i / 255);
  for (int compress = 0; compress <= 1; compress++) {
    struct membuf m = {NULL, 0, 0, 0, -1};
    se_stream_options o = se_stream_options_default();
    o.compress = compress;
    o.chunk_size = 1024;
    se_writer *w = NULL;
    CHECK_STATUS(se_writer_open_callbacks(ctx, mem_write, &m, &o, &w), SE_OK);
    CHECK_STATUS(se_writer_write(w, data, n), SE_OK);
    CHECK_STATUS(se_writer_close(w), SE_OK);
    se_writer_free(w);

    se_reader *r = NULL;
    CHECK_STATUS(se_reader_open_callbacks(ctx, mem_read, NULL, &m, -1, &r), SE_OK);
    uint8_t head[10];
    size_t got = 0;
    CHECK_STATUS(se_reader_read(r, head, sizeof head, &got), SE_OK);
    CHECK(got == 10 && memcmp(head, data, 10) == 0, "first read");
    CHECK_STATUS(se_reader_seek(r, 0, 0, NULL), SE_ERROR_IO);
    CHECK(strstr(se_last_error(), "seek") != NULL, "message: %s", se_last_error());
    CHECK_STATUS(se_reader_seek(r, 0, 2, NULL), SE_ERROR_IO);
    uint64_t size = 0;
    /* Uncompressed: the size needs a seek (I/O error); compressed: not known (argument). */
    CHECK_STATUS(se_reader_size(r, &size), compress ? SE_ERROR_ARGUMENT : SE_ERROR_IO);
    CHECK(compress || strstr(se_last_error(), "compressed") == NULL, "uncompressed stream called compressed: %s",
          se_last_error());
    /* Forward seeks read and discard: they work without a seek callback. */
    uint64_t pos = 0;
    CHECK_STATUS(se_reader_seek(r, 100, 0, &pos), SE_OK);
    CHECK(pos == 100, "forward seek to %llu", (unsigned long long)pos);
    uint8_t *rest = NULL;
    size_t len = 0;
    CHECK_STATUS(read_all(r, &rest, &len), SE_OK);
    CHECK(len == n - 100 && memcmp(rest, data + 100, len) == 0, "compress=%d: reads go on after the failed seek (%zu bytes)",
          compress, len);
    free(rest);
    se_reader_free(r);
    free(m.data);
  }
  free(data);
  se_context_free(ctx);
}

/* se_chunk_seal / se_chunk_open: one frame of a chunked stream. The expected frame was computed
   with Ruby's OpenSSL (aes-256-gcm, nonce "1234567" || 00000001 || 01, AAD "the header"). */
static void test_chunk_frames(void) {
  const uint8_t *key = (const uint8_t *)"0123456789abcdef0123456789abcdef";
  const uint8_t *prefix = (const uint8_t *)"1234567";
  const uint8_t *aad = (const uint8_t *)"the header";
  uint8_t *want;
  size_t want_len = unhex("9645503e02f8f55c6bb8ad7c0c13bb8231115297", &want);
  se_bytes frame = {0}, plain = {0};
  CHECK_STATUS(se_chunk_seal("aes-256-gcm", key, 32, prefix, 7, aad, 10, 1, 1, (const uint8_t *)"tail", 4, &frame), SE_OK);
  CHECK(frame.len == want_len && memcmp(frame.data, want, want_len) == 0, "chunk frame matches OpenSSL's");
  CHECK_STATUS(se_chunk_open("aes-256-gcm", key, 32, prefix, 7, aad, 10, 1, 1, frame.data, frame.len, &plain), SE_OK);
  CHECK(plain.len == 4 && memcmp(plain.data, "tail", 4) == 0, "chunk frame opens");
  se_bytes_free(&plain);
  /* moved, claimed not last, another header: authentication failures, nothing returned */
  CHECK_STATUS(se_chunk_open("aes-256-gcm", key, 32, prefix, 7, aad, 10, 2, 1, frame.data, frame.len, &plain), SE_ERROR_AUTHENTICATION);
  CHECK(plain.data == NULL && plain.len == 0, "no plaintext after a failed check");
  CHECK_STATUS(se_chunk_open("aes-256-gcm", key, 32, prefix, 7, aad, 10, 1, 0, frame.data, frame.len, &plain), SE_ERROR_AUTHENTICATION);
  CHECK_STATUS(se_chunk_open("aes-256-gcm", key, 32, prefix, 7, (const uint8_t *)"other", 5, 1, 1, frame.data, frame.len, &plain), SE_ERROR_AUTHENTICATION);
  CHECK_STATUS(se_chunk_open("aes-256-gcm", key, 32, prefix, 7, aad, 10, 1, 1, frame.data, 15, &plain), SE_ERROR_CIPHER);
  CHECK(strstr(se_last_error(), "truncated") != NULL, "short frame: %s", se_last_error());
  se_bytes_free(&frame);
  /* bad arguments */
  CHECK_STATUS(se_chunk_seal("aes-256-cbc", key, 32, prefix, 7, aad, 10, 0, 1, key, 4, &frame), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "not an authenticated cipher") != NULL, "cbc: %s", se_last_error());
  CHECK_STATUS(se_chunk_seal("aes-256-gcm", key, 16, prefix, 7, aad, 10, 0, 1, key, 4, &frame), SE_ERROR_ARGUMENT);
  CHECK(strstr(se_last_error(), "0123456789abcdef") == NULL, "key not in the message");
  CHECK_STATUS(se_chunk_seal("aes-256-gcm", key, 32, prefix, 6, aad, 10, 0, 1, key, 4, &frame), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_chunk_seal("aes-256-gcm", key, 32, prefix, 7, aad, 10, (uint64_t)1 << 32, 1, key, 4, &frame), SE_ERROR_CIPHER);
  CHECK_STATUS(se_chunk_seal(NULL, key, 32, prefix, 7, aad, 10, 0, 1, key, 4, &frame), SE_ERROR_ARGUMENT);
  CHECK_STATUS(se_chunk_seal("aes-256-gcm", key, 32, prefix, 7, aad, 10, 0, 1, key, 4, NULL), SE_ERROR_ARGUMENT);
  CHECK(frame.data == NULL, "out stays empty after failures");
  free(want);
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
  test_chunk_frames();
  test_gem_values();
  test_config_load();
  test_shared_versions();
  test_legacy_rsa();
  test_gem_files();
  test_stream_callbacks();
  test_stream_files();
  test_file_targets();
  test_decompression_limit();
  test_stream_output_limit();
  test_failed_seek_leaves_reader();
  test_fork_random_ivs();
  test_threads();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
