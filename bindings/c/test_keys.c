/*
 * C tests of key management through the C ABI: se_config_* and se_reencrypt, on the file,
 * environment, heroku and memory keystores (and aws when SE_TEST_KMS_ENDPOINT names a KMS
 * endpoint, such as moto's). For each keystore:
 *   generate -> rotate (rolling) -> activate -> rotate-kek -> re-encrypt -> cleanup
 * and after every step every value written so far (values, values inside a text file, a whole
 * encrypted file) must still decrypt, from the handle and from the file reloaded from disk.
 * Also se_cli_main (the command line in-process) on the same files.
 *
 * Usage: test_keys   (works in a fresh directory under $TMPDIR)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symmetric_encryption.h"

static int passed, failed;

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

#define CHECK_OK(expr) CHECK((expr) == SE_OK, "%s failed", #expr)

#define MAX_VALUES 32

/* Values written so far: the encrypted text and its plaintext. */
static struct {
  char *enc;
  char plain[64];
} values[MAX_VALUES];
static int nvalues;

static void forget_values(void) {
  for (int i = 0; i < nvalues; i++) free(values[i].enc);
  nvalues = 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(n + 1);
  size_t got = fread(b, 1, n, f);
  b[got] = 0;
  fclose(f);
  return b;
}

static void spit(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

/* Sets the variables a report asks for (environment and heroku keystores). */
static void set_variables(const se_report *r) {
  for (size_t i = 0; i < se_report_variable_count(r); i++) {
    const char *name = NULL, *value = NULL;
    int32_t heroku = -1;
    CHECK_OK(se_report_variable(r, i, &name, &value, &heroku));
    if (name && value) setenv(name, value, 1);
  }
}

static int decrypts(se_context *ctx, const char *enc, const char *plain) {
  se_bytes out = {0};
  if (se_decrypt(ctx, (const uint8_t *)enc, strlen(enc), &out) != SE_OK) return 0;
  int ok = out.len == strlen(plain) && memcmp(out.data, plain, out.len) == 0;
  se_bytes_free(&out);
  return ok;
}

static int header_version(se_context *ctx, const char *enc) {
  se_header_info h;
  if (se_header(ctx, (const uint8_t *)enc, strlen(enc), 0, &h) != SE_OK || !h.present) return -1;
  return h.version;
}

/* Encrypts a new value with the primary and remembers it. */
static void add_value(se_context *ctx, const char *step) {
  if (nvalues >= MAX_VALUES) return;
  snprintf(values[nvalues].plain, sizeof values[nvalues].plain, "value written at %s", step);
  se_bytes out = {0};
  CHECK_OK(se_encrypt(ctx, (const uint8_t *)values[nvalues].plain, strlen(values[nvalues].plain),
                      NULL, &out));
  values[nvalues].enc = strndup((const char *)out.data, out.len);
  se_bytes_free(&out);
  nvalues++;
}

/* Every value so far, the text file's value and the whole encrypted file decrypt with ctx. */
static void check_all(se_context *ctx, const char *store, const char *step) {
  for (int i = 0; i < nvalues; i++)
    CHECK(decrypts(ctx, values[i].enc, values[i].plain), "%s %s: value %d (%s) no longer decrypts",
          store, step, i, values[i].plain);
  char *text = slurp("data/values.yml");
  CHECK(text != NULL, "%s %s: data/values.yml", store, step);
  if (text) {
    char *v = strstr(text, "secret: ");
    char enc[512] = {0};
    if (v) sscanf(v + 8, "%511s", enc);
    CHECK(decrypts(ctx, enc, "in a text file"), "%s %s: the value in data/values.yml", store, step);
    free(text);
  }
  CHECK_OK(se_decrypt_file(ctx, "data/blob.enc", "blob.out"));
  char *blob = slurp("blob.out");
  CHECK(blob && strcmp(blob, "a whole encrypted file\n") == 0, "%s %s: data/blob.enc", store, step);
  free(blob);
}

/* The production context from the handle, and from the file reloaded: both must agree. */
static se_context *contexts(se_config *cfg, const char *path, const char *store, const char *step) {
  se_context *ctx = NULL, *again = NULL;
  CHECK_OK(se_config_context(cfg, "production", &ctx));
  CHECK_OK(se_context_load(path, "production", &again));
  if (again) {
    check_all(again, store, step);
    se_context_free(again);
  }
  if (ctx) check_all(ctx, store, step);
  return ctx;
}

static void expect_versions(se_config *cfg, const char *want, size_t n, const char *store,
                            const char *step) {
  se_bytes v = {0};
  CHECK_OK(se_config_versions(cfg, "production", &v));
  int same = v.len == n && memcmp(v.data, want, n) == 0;
  CHECK(same, "%s %s: production versions (%zu of them, first %d)", store, step, v.len,
        v.len ? v.data[0] : -1);
  se_bytes_free(&v);
}

static void run_keystore(const char *store, const char *base) {
  char dir[512], path[600], keys[600];
  snprintf(dir, sizeof dir, "%s/%s", base, store);
  mkdir(dir, 0700);
  if (chdir(dir) != 0) {
    CHECK(0, "chdir %s", dir);
    return;
  }
  mkdir("data", 0700);
  snprintf(path, sizeof path, "%s/config/symmetric-encryption.yml", dir);
  snprintf(keys, sizeof keys, "%s/keys", dir);

  /* generate */
  se_key_options o = se_key_options_default();
  o.keystore = store;
  o.app_name = "capp";
  o.environments = "development,production";
  o.key_path = keys;
  if (strcmp(store, "aws") == 0) o.regions = "us-east-1";
  se_config *cfg = NULL;
  se_report *r = NULL;
  CHECK_OK(se_config_generate(path, &o, &cfg, &r));
  if (!cfg) return;
  CHECK(se_report_written(r) == 1, "%s generate: written", store);
  const char *out = se_report_stdout(r);
  if (strcmp(store, "environment") == 0) {
    CHECK(strstr(out, "export CAPP_PRODUCTION_V1=") != NULL, "%s generate stdout: %s", store, out);
    CHECK(se_report_variable_count(r) == 1, "%s generate: one variable", store);
  } else if (strcmp(store, "heroku") == 0) {
    CHECK(strstr(out, "heroku config:add CAPP_PRODUCTION_V1=") != NULL, "%s generate: %s", store, out);
    int32_t heroku = 0;
    CHECK_OK(se_report_variable(r, 0, NULL, NULL, &heroku));
    CHECK(heroku == 1, "%s generate: heroku flag", store);
  } else if (strcmp(store, "file") == 0) {
    CHECK(se_report_file_count(r) == 2, "%s generate: two key files, got %zu", store,
          se_report_file_count(r));
    struct stat st;
    CHECK(stat(se_report_file(r, 0), &st) == 0 && (st.st_mode & 0777) == 0600,
          "%s generate: key file mode", store);
  }
  CHECK(strstr(out, "New configuration file created at:") != NULL, "%s generate: %s", store, out);
  CHECK(se_report_variable(r, 99, NULL, NULL, NULL) == SE_ERROR_ARGUMENT, "variable out of range");
  set_variables(r);
  se_report_free(r);

  /* a second generate onto the same file is refused before any key is made */
  se_config *dup = NULL;
  CHECK(se_config_generate(path, &o, &dup, &r) == SE_ERROR_ARGUMENT && dup == NULL && r == NULL,
        "%s: generate onto an existing file", store);

  se_bytes json = {0};
  CHECK_OK(se_config_describe(cfg, &json));
  CHECK(json.len > 0 && memmem(json.data, json.len, "\"production\"", 12) != NULL, "describe");
  CHECK(memmem(json.data, json.len, "1234567890ABCDEF", 16) == NULL, "describe shows no key");
  se_bytes_free(&json);
  se_bytes names = {0};
  CHECK_OK(se_config_environments(cfg, &names));
  CHECK(names.len == strlen("development,production") &&
            memcmp(names.data, "development,production", names.len) == 0,
        "environment names");
  se_bytes_free(&names);

  char blob_plain[] = "a whole encrypted file\n";
  spit("blob.txt", blob_plain);
  se_context *ctx = NULL;
  CHECK_OK(se_config_context(cfg, "production", &ctx));
  if (!ctx) return;
  CHECK_OK(se_encrypt_file(ctx, "blob.txt", "data/blob.enc", -1, -1));
  {
    se_bytes enc = {0};
    CHECK_OK(se_encrypt(ctx, (const uint8_t *)"in a text file", 14, NULL, &enc));
    char text[1024];
    snprintf(text, sizeof text, "# values\nsecret: %.*s\nplain: 1\n", (int)enc.len, enc.data);
    spit("data/values.yml", text);
    se_bytes_free(&enc);
  }
  add_value(ctx, "generate");
  se_context_free(ctx);
  ctx = contexts(cfg, path, store, "generate");
  se_context_free(ctx);

  /* rotate, rolling deploy: the new key goes second */
  o = se_key_options_default();
  o.rolling_deploy = 1;
  CHECK_OK(se_config_rotate_keys(cfg, &o, &r));
  CHECK(se_report_written(r) == 1, "%s rotate: written", store);
  CHECK(se_report_line_count(r) >= 2 && strcmp(se_report_line(r, 0), "Rotated: production") == 0,
        "%s rotate lines: %s", store, se_report_stdout(r));
  set_variables(r);
  se_report_free(r);
  expect_versions(cfg, "\x01\x02", 2, store, "rotate");
  ctx = contexts(cfg, path, store, "rotate");
  if (ctx) {
    add_value(ctx, "rotate");
    CHECK(header_version(ctx, values[nvalues - 1].enc) == 1, "%s rotate: primary still 1", store);
    se_context_free(ctx);
  }

  /* activate: the new key becomes the primary */
  CHECK_OK(se_config_activate_key(cfg, NULL, &r));
  CHECK(se_report_written(r) == 1, "%s activate: written", store);
  se_report_free(r);
  expect_versions(cfg, "\x02\x01", 2, store, "activate");
  CHECK_OK(se_config_activate_key(cfg, NULL, &r));
  CHECK(se_report_written(r) == 0 && strstr(se_report_stdout(r), "Nothing to activate"),
        "%s activate twice: %s", store, se_report_stdout(r));
  se_report_free(r);
  ctx = contexts(cfg, path, store, "activate");
  if (ctx) {
    add_value(ctx, "activate");
    CHECK(header_version(ctx, values[nvalues - 1].enc) == 2, "%s activate: primary 2", store);
    se_context_free(ctx);
  }

  /* the command line, in-process, on the same file: --activate-key again changes nothing */
  {
    char *argv[] = {"symmetric-encryption", "--config", path, "--activate-key", NULL};
    fflush(stdout);
    CHECK(se_cli_main(4, (const char *const *)argv) == 0, "%s: se_cli_main --activate-key", store);
    char *bad[] = {"symmetric-encryption", "--no-such-flag", NULL};
    CHECK(se_cli_main(2, (const char *const *)bad) == 2, "se_cli_main usage error exits 2");
  }

  /* rotate-kek: new key-encrypting keys for the current key (aws: nothing to rotate here) */
  CHECK_OK(se_config_rotate_kek(cfg, NULL, &r));
  if (strcmp(store, "aws") == 0) {
    CHECK(se_report_written(r) == 0, "aws rotate-kek: nothing written");
  } else {
    CHECK(se_report_written(r) == 1, "%s rotate-kek: written: %s", store, se_report_stdout(r));
    if (strcmp(store, "environment") == 0)
      CHECK(strstr(se_report_stdout(r), "export CAPP_PRODUCTION_V2=") != NULL,
            "%s rotate-kek stdout: %s", store, se_report_stdout(r));
  }
  set_variables(r);
  se_report_free(r);
  expect_versions(cfg, "\x02\x01", 2, store, "rotate-kek");
  ctx = contexts(cfg, path, store, "rotate-kek");
  if (ctx) add_value(ctx, "rotate-kek");

  /* re-encrypt the text file's value and the whole file to the primary (2) */
  if (ctx) {
    CHECK_OK(se_reencrypt(ctx, "data/**/*", -1, &r));
    CHECK(se_report_failures(r) == 0, "%s re-encrypt failures: %s", store, se_report_stderr(r));
    CHECK(se_report_written(r) == 1, "%s re-encrypt: changed something", store);
    const char *rs = se_report_stdout(r);
    CHECK(strstr(rs, "Re-encrypting entire file: data/blob.enc (version 1 -> 2)") != NULL,
          "%s re-encrypt stdout: %s", store, rs);
    CHECK(strstr(rs, "Re-encrypted 1 encrypted value(s) in: data/values.yml") != NULL, "%s re-encrypt: %s",
          store, rs);
    se_report_free(r);
    char *text = slurp("data/values.yml");
    char enc[512] = {0};
    char *v = text ? strstr(text, "secret: ") : NULL;
    if (v) sscanf(v + 8, "%511s", enc);
    CHECK(header_version(ctx, enc) == 2, "%s re-encrypt: value now version 2", store);
    CHECK(text && strstr(text, "plain: 1\n"), "%s re-encrypt kept the rest of the file", store);
    free(text);
    se_context_free(ctx);
  }
  ctx = contexts(cfg, path, store, "re-encrypt");
  se_context_free(ctx);

  /* cleanup: plan first (changes nothing), then remove version 1 */
  CHECK_OK(se_config_cleanup_plan(cfg, NULL, &r));
  CHECK(se_report_removal_count(r) == 1, "%s cleanup plan: one environment", store);
  {
    const char *env = NULL;
    const uint8_t *vs = NULL;
    size_t n = 0;
    CHECK_OK(se_report_removal(r, 0, &env, &vs, &n));
    CHECK(env && strcmp(env, "production") == 0 && n == 1 && vs[0] == 1, "%s plan: production v1",
          store);
    CHECK(strstr(se_report_stdout(r), "production") != NULL, "%s plan warning: %s", store,
          se_report_stdout(r));
  }
  CHECK(se_report_written(r) == 0, "%s cleanup plan writes nothing", store);
  se_report_free(r);
  expect_versions(cfg, "\x02\x01", 2, store, "cleanup plan");
  CHECK_OK(se_config_cleanup_keys(cfg, NULL, &r));
  CHECK(se_report_written(r) == 1, "%s cleanup: written", store);
  se_report_free(r);
  expect_versions(cfg, "\x02", 1, store, "cleanup");
  /* Values of version 1 are gone with their key; keep the ones written with version 2. */
  int keep = 0;
  se_context *check = NULL;
  CHECK_OK(se_config_context(cfg, "production", &check));
  for (int i = 0; i < nvalues; i++) {
    if (check && header_version(check, values[i].enc) == 2) {
      values[keep].enc = values[i].enc;
      memcpy(values[keep].plain, values[i].plain, sizeof values[i].plain);
      keep++;
    } else {
      free(values[i].enc);
    }
  }
  nvalues = keep;
  CHECK(keep == 2, "%s: two values written with version 2, got %d", store, keep);
  se_context_free(check);
  ctx = contexts(cfg, path, store, "cleanup");
  se_context_free(ctx);

  /* migrate writes the same configuration back */
  CHECK_OK(se_config_migrate(cfg, &r));
  CHECK(strstr(se_report_stdout(r), "successfully migrated") != NULL, "%s migrate", store);
  se_report_free(r);
  ctx = contexts(cfg, path, store, "migrate");
  se_context_free(ctx);

  forget_values();
  se_config_free(cfg);
}

static void test_in_memory_and_errors(void) {
  const char *yaml =
      "development:\n  ciphers:\n  - key: 1234567890ABCDEF\n    iv: 1234567890ABCDEF\n"
      "    cipher_name: aes-128-cbc\n    version: 1\n";
  se_config *cfg = NULL;
  CHECK_OK(se_config_parse_yaml(yaml, strlen(yaml), "inline", &cfg));
  se_report *r = NULL;
  CHECK_OK(se_config_rotate_keys(cfg, NULL, &r));
  CHECK(se_report_written(r) == 0 && strstr(se_report_stdout(r), "No new keys were generated"),
        "nothing to rotate in development: %s", se_report_stdout(r));
  se_report_free(r);
  CHECK(se_config_write(cfg, NULL) == SE_ERROR_ARGUMENT, "write without a path");
  se_bytes text = {0};
  CHECK_OK(se_config_to_yaml(cfg, &text));
  CHECK(text.len > 0 && memmem(text.data, text.len, "ciphers:", 8), "to_yaml");
  se_bytes_free(&text);
  se_key_options o = se_key_options_default();
  o.environments = "staging";
  CHECK(se_config_activate_key(cfg, &o, &r) == SE_ERROR_CONFIG && r == NULL, "unknown env");
  CHECK(strstr(se_last_error(), "staging") != NULL, "message names staging: %s", se_last_error());
  o = se_key_options_default();
  o.keystore = "vault9";
  CHECK(se_config_rotate_keys(cfg, &o, &r) != SE_OK && r == NULL, "bad keystore");
  CHECK(strstr(se_last_error(), "vault9") != NULL, "message names vault9: %s", se_last_error());
  o = se_key_options_default();
  o.rolling_deploy = 7;
  CHECK(se_config_rotate_keys(cfg, &o, &r) == SE_ERROR_ARGUMENT, "bad rolling_deploy");
  CHECK(se_config_rotate_keys(NULL, NULL, &r) == SE_ERROR_ARGUMENT, "NULL cfg");
  CHECK(se_config_rotate_keys(cfg, NULL, NULL) == SE_ERROR_ARGUMENT, "NULL report");
  se_config_free(cfg);
  cfg = NULL;
  se_config *missing = (se_config *)1;
  CHECK(se_config_load("/nonexistent/se.yml", &missing) == SE_ERROR_CONFIG && missing == NULL,
        "missing file");
  CHECK(strcmp(se_report_stdout(NULL), "") == 0 && se_report_line(NULL, 0) == NULL, "NULL report");
  se_config_free(NULL);
  se_report_free(NULL);
  /* in memory generation: no file, memory keystore */
  o = se_key_options_default();
  o.keystore = "memory";
  o.environments = "production";
  CHECK_OK(se_config_generate(NULL, &o, &cfg, &r));
  CHECK(se_report_written(r) == 0, "in-memory generate writes no file");
  se_report_free(r);
  se_context *ctx = NULL;
  CHECK_OK(se_config_context(cfg, "production", &ctx));
  se_context_free(ctx);
  se_config_free(cfg);
}

int main(void) {
  char base[] = "/tmp/se-test-keys-XXXXXX";
  const char *tmp = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/se-test-keys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  char *dir = mkdtemp(tmpl);
  if (!dir) dir = mkdtemp(base);
  if (!dir) {
    perror("mkdtemp");
    return 2;
  }
  char cwd[1024];
  if (!getcwd(cwd, sizeof cwd)) return 2;
  test_in_memory_and_errors();
  const char *stores[] = {"file", "environment", "heroku", "memory"};
  for (size_t i = 0; i < sizeof stores / sizeof *stores; i++) run_keystore(stores[i], dir);
  const char *kms = getenv("SE_TEST_KMS_ENDPOINT");
  if (kms && *kms) {
    /* moto's KMS: test credentials, one region (see tests/aws_kms.rs). */
    setenv("AWS_ENDPOINT_URL", kms, 1);
    setenv("AWS_ACCESS_KEY_ID", "test", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    run_keystore("aws", dir);
  } else {
    printf("aws keystore skipped: SE_TEST_KMS_ENDPOINT is not set\n");
  }
  if (chdir(cwd) != 0) return 2;
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (failed == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
