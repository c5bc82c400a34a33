/*
 * A process that loads a context whose data key is wrapped by a Vault / OpenBao transit key,
 * then forks, as Puma, Unicorn, Resque and Python's multiprocessing do: each child must encrypt
 * and decrypt with the inherited context AND load a fresh context (new Vault calls from the
 * child) without hanging. Children also check that an unreachable, a sealed server and a denied
 * token are keystore errors saying so. The parent checks every child's exit status, then keeps
 * working itself.
 *
 * Usage: test_fork_vault CONFIG ENVIRONMENT
 *   CONFIG: a vault configuration whose key file exists. Vault is reached through the standard
 *   environment (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, ...). Optional: SE_TEST_VAULT_SEALED_ADDR
 *   (a sealed server) and SE_TEST_DENIED_TOKEN (a token without decrypt on the key).
 *
 * bindings/c/run-vault-fork-test builds and runs it against a local OpenBao dev server.
 * Prints "N passed, N failed"; exit status 0 when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* Loading must fail with a keystore error whose message contains `expected`. */
static void fails_with(const char *config, const char *env, const char *what,
                       const char *expected) {
  se_context *none = NULL;
  se_status s = se_context_load(config, env, &none);
  CHECK(s == SE_ERROR_KEYSTORE && none == NULL, "%s: status %d, want %d", what, (int)s,
        (int)SE_ERROR_KEYSTORE);
  CHECK(strstr(se_last_error(), expected) != NULL, "%s: the error says \"%s\"", what, expected);
  fprintf(stderr, "%s: %s: %s\n", who, what, se_last_error());
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

  /* New Vault calls from the child. */
  se_context *fresh = NULL;
  se_status s = se_context_load(config, env, &fresh);
  CHECK(s == SE_OK && fresh != NULL, "a fresh context loads in the child (status %d)", (int)s);
  if (fresh) {
    CHECK(decrypts_to(fresh, from_parent, "written by the parent"),
          "the fresh context decrypts the parent's value");
    CHECK(round_trip(fresh, inherited, "fresh -> inherited"), "fresh encrypts, inherited decrypts");
    se_context_free(fresh);
  }

  /* Failures in a child are errors, not hangs. */
  if (n == 0 && getenv("SE_TEST_DENIED_TOKEN")) {
    setenv("VAULT_TOKEN", getenv("SE_TEST_DENIED_TOKEN"), 1);
    fails_with(config, env, "denied token", "denied");
  }
  if (n == 1 && getenv("SE_TEST_VAULT_SEALED_ADDR")) {
    setenv("VAULT_ADDR", getenv("SE_TEST_VAULT_SEALED_ADDR"), 1);
    unsetenv("VAULT_CACERT");
    fails_with(config, env, "sealed server", "is sealed");
  }
  if (n == 2) {
    setenv("VAULT_ADDR", "http://127.0.0.1:1", 1);
    fails_with(config, env, "unreachable server", "cannot reach Vault at http://127.0.0.1:1");
  }
  fprintf(stderr, "%s: %d passed, %d failed\n", name, passed, failed);
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONFIG ENVIRONMENT\n", argv[0]);
    return 2;
  }
  const char *config = argv[1], *env = argv[2];

  se_context *ctx = NULL;
  se_status s = se_context_load(config, env, &ctx);
  CHECK(s == SE_OK && ctx != NULL, "the parent loads %s, environment %s (status %d)", config, env,
        (int)s);
  if (!ctx) {
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
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

  /* The parent still works, Vault included, after its children. */
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
