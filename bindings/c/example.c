/*
 * example: encrypt or decrypt a value or a file with a symmetric-encryption configuration.
 *
 *   example CONFIG ENV encrypt VALUE
 *   example CONFIG ENV decrypt VALUE
 *   example CONFIG ENV encrypt-file SOURCE TARGET
 *   example CONFIG ENV decrypt-file SOURCE TARGET
 *
 * Build: cc example.c -Iinclude -Ltarget/release -lsymmetric_encryption -o example
 */
#include <stdio.h>
#include <string.h>

#include "symmetric_encryption.h"

static int fail(const char *what) {
  fprintf(stderr, "example: %s: %s\n", what, se_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s CONFIG ENV encrypt|decrypt VALUE\n"
                    "       %s CONFIG ENV encrypt-file|decrypt-file SOURCE TARGET\n", argv[0], argv[0]);
    return 2;
  }
  se_context *ctx = NULL;
  if (se_context_load(argv[1], argv[2], &ctx) != SE_OK) return fail("cannot load the configuration");

  int rc = 0;
  const char *op = argv[3];
  if (strcmp(op, "encrypt") == 0 || strcmp(op, "decrypt") == 0) {
    se_bytes out = {NULL, 0};
    const uint8_t *in = (const uint8_t *)argv[4];
    se_status st = strcmp(op, "encrypt") == 0 ? se_encrypt(ctx, in, strlen(argv[4]), NULL, &out)
                                              : se_decrypt(ctx, in, strlen(argv[4]), &out);
    if (st != SE_OK) {
      rc = fail(op);
    } else {
      fwrite(out.data, 1, out.len, stdout);
      putchar('\n');
    }
    se_bytes_free(&out); /* the library owns returned memory; it is zeroed when freed */
  } else if (argc >= 6 && strcmp(op, "encrypt-file") == 0) {
    if (se_encrypt_file(ctx, argv[4], argv[5], -1, -1) != SE_OK) rc = fail("encrypt-file");
  } else if (argc >= 6 && strcmp(op, "decrypt-file") == 0) {
    if (se_decrypt_file(ctx, argv[4], argv[5]) != SE_OK) rc = fail("decrypt-file");
  } else {
    fprintf(stderr, "example: unknown operation %s\n", op);
    rc = 2;
  }
  se_context_free(ctx);
  return rc;
}
