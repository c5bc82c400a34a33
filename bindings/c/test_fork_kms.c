/*
 * A process that loads a context whose key is in AWS KMS, then forks, as Puma, Unicorn, Resque
 * and Python's multiprocessing do: each child must encrypt and decrypt with the inherited
 * context AND load a fresh context (new KMS calls from the child) without hanging. The parent
 * checks every child's exit status, then keeps working itself.
 *
 * Usage: test_fork_kms CONFIG ENVIRONMENT
 *   CONFIG: an aws configuration (symmetric-encryption --generate --keystore aws), whose key
 *   files exist for AWS_REGION. KMS is reached through the standard AWS environment
 *   (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
 *
 * Build against a library built with the aws-kms feature:
 *   cargo build --release --lib --features aws-kms
 *   cc -std=c11 -Wall -Wextra -O1 -Iinclude bindings/c/test_fork_kms.c \
 *      -Ltarget/release -Wl,-rpath,$PWD/target/release -lsymmetric_encryption -o test_fork_kms
 * tests/aws_kms.rs builds and runs it (against target/debug) with a moto KMS server.
 *
 * Prints "N passed, N failed"; exit status 0 when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "symmetric_encryption.h"

#define CHILDREN 3

static int passed, failed;
static const char *who = "parent";

#define CHECK(cond, ...)                                                          \
  do {                                                                            \
    if (cond) {                                                                   \
      passed++;                                                                   \
    } else {                                                                      \
      failed++;                                                                   \
      fprintf(stderr, "FAIL (%s) %s:%d: ", who, __FILE__, __LINE__);             \
      fprintf(stderr, __VA_ARGS__);                                               \
      fprintf(stderr, " [last error: %s]\n", se_last_error());                   \
    }                                                                             \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Encrypts `text` with `enc`, decrypts with `dec`: 1 if it comes back. */
static int round_trip(const se_context *enc, const se_context *dec, const char *text) {
  se_bytes e = {0}, d = {0};
  int ok = se_encrypt(enc, (const uint8_t *)text, strlen(text), NULL, &e) == SE_OK &&
           se_decrypt(dec, e.data, e.len, &d) == SE_OK && d.len == strlen(text) &&
           memcmp(d.data, text, d.len) == 0;
  se_bytes_free(&e);
  se_bytes_free(&d);
  return ok;
}

/* Decrypts an encoded value: 1 if it gives `text`. */
static int decrypts_to(const se_context *ctx, const se_bytes *value, const char *text) {
  se_bytes d = {0};
  int ok = se_decrypt(ctx, value->data, value->len, &d) == SE_OK && d.len == strlen(text) &&
           memcmp(d.data, text, d.len) == 0;
  se_bytes_free(&d);
  return ok;
}

/* What each child does. Returns the number of failed checks. */
static int child(int n, const char *config, const char *env, const se_context *inherited,
                 const se_bytes *from_parent) {
  char name[32];
  snprintf(name, sizeof name, "child %d", n);
  who = name;
  passed = failed = 0;

  CHECK(decrypts_to(inherited, from_parent, "written by the parent"),
        "the inherited context decrypts the parent's value");
  CHECK(round_trip(inherited, inherited, "written by a child"),
        "the inherited context encrypts and decrypts");

  /* New KMS calls from the child. */
  se_context *fresh = NULL;
  double t = now();
  se_status s = se_context_load(config, env, &fresh);
  CHECK(s == SE_OK && fresh != NULL, "a fresh context loads in the child (status %d)", (int)s);
  if (fresh) {
    CHECK(decrypts_to(fresh, from_parent, "written by the parent"),
          "the fresh context decrypts the parent's value");
    CHECK(round_trip(fresh, inherited, "fresh -> inherited"), "fresh encrypts, inherited decrypts");
    CHECK(round_trip(inherited, fresh, "inherited -> fresh"), "inherited encrypts, fresh decrypts");
    se_context_free(fresh);
  }
  fprintf(stderr, "%s: loaded from KMS in %.2f s; %d passed, %d failed\n", name, now() - t,
          passed, failed);

  /* The last child also checks that a KMS failure in a child is an error, not a hang. */
  if (n == CHILDREN - 1) {
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
    unsetenv("AWS_ENDPOINT_URL_KMS");
    se_context *none = NULL;
    t = now();
    s = se_context_load(config, env, &none);
    double took = now() - t;
    CHECK(s == SE_ERROR_KEYSTORE && none == NULL, "unreachable KMS: status %d, want %d", (int)s,
          (int)SE_ERROR_KEYSTORE);
    CHECK(strstr(se_last_error(), "127.0.0.1:1") != NULL, "the error names the endpoint");
    CHECK(took < 10.0, "unreachable KMS failed after %.2f s", took);
    fprintf(stderr, "%s: unreachable KMS failed after %.2f s: %s\n", name, took, se_last_error());
  }
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONFIG ENVIRONMENT\n", argv[0]);
    return 2;
  }
  const char *config = argv[1], *env = argv[2];

  se_context *ctx = NULL;
  double t = now();
  se_status s = se_context_load(config, env, &ctx);
  CHECK(s == SE_OK && ctx != NULL, "the parent loads %s, environment %s (status %d)", config, env,
        (int)s);
  if (!ctx) {
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  fprintf(stderr, "parent: loaded from KMS in %.2f s\n", now() - t);
  se_bytes value = {0};
  const char *text = "written by the parent";
  CHECK(se_encrypt(ctx, (const uint8_t *)text, strlen(text), NULL, &value) == SE_OK,
        "the parent encrypts");

  pid_t pids[CHILDREN];
  for (int i = 0; i < CHILDREN; i++) {
    fflush(stdout);
    fflush(stderr);
    pids[i] = fork();
    if (pids[i] == 0) {
      int f = child(i, config, env, ctx, &value);
      fflush(stderr);
      _exit(f == 0 ? 0 : 1);
    }
    CHECK(pids[i] > 0, "fork %d", i);
  }
  for (int i = 0; i < CHILDREN; i++) {
    if (pids[i] <= 0) continue;
    int status = 0;
    pid_t got = waitpid(pids[i], &status, 0);
    CHECK(got == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child %d: exited %s %d", i, WIFEXITED(status) ? "with status" : "by signal",
          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }

  /* The parent still works, KMS included, after its children. */
  se_context *again = NULL;
  CHECK(se_context_load(config, env, &again) == SE_OK, "the parent loads again after forking");
  if (again) {
    CHECK(decrypts_to(again, &value, text), "the parent's new context decrypts its value");
    se_context_free(again);
  }
  se_bytes_free(&value);
  se_context_free(ctx);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
