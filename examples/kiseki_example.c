/* libkiseki from C: put an object, read it back, list, stat, delete.
 *   kiseki_example HOST:PORT ACCESS_KEY SECRET_KEY NAMESPACE
 * Prints what it did; exits 0 only if every step did what it should. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiseki/kiseki.h>

static int check(int rc, const char* what) {
  if (rc != 0) fprintf(stderr, "%s: %s (%d)\n", what, kiseki_last_error(), rc);
  return rc;
}

static int count_key(const char* key, uint64_t size, void* arg) {
  printf("  listed %s (%llu bytes)\n", key, (unsigned long long)size);
  ++*(int*)arg;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s HOST:PORT ACCESS_KEY SECRET_KEY NAMESPACE\n", argv[0]);
    return 2;
  }
  kiseki_client* c = NULL;
  if (check(kiseki_connect(argv[1], argv[2], argv[3], &c), "connect")) return 1;
  kiseki_ns ns;
  if (check(kiseki_mount(c, argv[4], &ns), "mount")) return 1;

  const char* text = "hello from C through libkiseki\n";
  if (check(kiseki_put(c, ns, "c-example/hello.txt", text, strlen(text)), "put")) return 1;
  void* data = NULL;
  size_t len = 0;
  if (check(kiseki_get(c, ns, "c-example/hello.txt", 6, UINT64_MAX, &data, &len), "get")) return 1;
  int same = len == strlen(text) - 6 && memcmp(data, text + 6, len) == 0;
  kiseki_free(data);
  printf("read back %zu bytes from offset 6: %s\n", len, same ? "same" : "DIFFERENT");

  uint64_t size = 0;
  char etag[65];
  if (check(kiseki_head(c, ns, "c-example/hello.txt", &size, etag), "head")) return 1;
  kiseki_stat st;
  if (check(kiseki_stat_path(c, ns, "c-example/hello.txt", &st), "stat")) return 1;
  printf("size %llu, etag %s, inode %llu, mode %o\n", (unsigned long long)size, etag, (unsigned long long)st.ino,
         st.mode);
  int listed = 0;
  if (check(kiseki_list(c, ns, "c-example/", count_key, &listed), "list")) return 1;
  if (check(kiseki_delete(c, ns, "c-example/hello.txt"), "delete")) return 1;
  int gone = kiseki_head(c, ns, "c-example/hello.txt", NULL, NULL) == -ENOENT;
  printf("deleted: %s\n", gone ? "gone" : "STILL THERE");
  kiseki_disconnect(c);
  return same && size == strlen(text) && listed == 1 && gone ? 0 : 1;
}
