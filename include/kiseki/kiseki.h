/* libkiseki: the C ABI of Kiseki's native protocol client.
 *
 * Every call returns 0 on success or a negative errno (-ENOENT, -EACCES, …);
 * kiseki_last_error() then says why in words (per thread). A client is safe to
 * use from many threads at once; its calls are pipelined over a pool of
 * connections and sent again after a reconnect (docs/native-protocol.md).
 * Memory returned by the library is released with kiseki_free().
 */
#ifndef KISEKI_KISEKI_H
#define KISEKI_KISEKI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KISEKI_API __attribute__((visibility("default")))

typedef struct kiseki_client kiseki_client;

/* A namespace (S3 bucket) opened by kiseki_mount. */
typedef uint64_t kiseki_ns;

typedef struct {
  uint64_t ino;
  uint32_t mode; /* type and permission bits, as st_mode */
  uint32_t uid, gid, nlink;
  uint64_t size;
  int64_t mtime_ns, ctime_ns;
} kiseki_stat;

/* Connects to ENDPOINT ("HOST:PORT", the server's --native-listen) and
 * authenticates with an access key; the secret never crosses the wire. */
KISEKI_API int kiseki_connect(const char* endpoint, const char* access_key, const char* secret_key, kiseki_client** out);
/* The same over TLS (a server started with --tls-cert) when TLS is non-zero or
 * CA_FILE is given: the server's certificate must chain to CA_FILE (PEM), or
 * to the system's CAs when CA_FILE is NULL, and name ENDPOINT's host. */
KISEKI_API int kiseki_connect_tls(const char* endpoint, const char* access_key, const char* secret_key,
                                  const char* ca_file, int tls, kiseki_client** out);
KISEKI_API void kiseki_disconnect(kiseki_client* c);
KISEKI_API const char* kiseki_last_error(void);
KISEKI_API void kiseki_free(void* p);

KISEKI_API int kiseki_mount(kiseki_client* c, const char* ns_name, kiseki_ns* out);

/* Objects: a key is a path ("dir/file"). kiseki_get with length UINT64_MAX
 * reads to the end; *data is kiseki_free'd by the caller. */
KISEKI_API int kiseki_put(kiseki_client* c, kiseki_ns ns, const char* key, const void* data, size_t len);
KISEKI_API int kiseki_get(kiseki_client* c, kiseki_ns ns, const char* key, uint64_t offset, uint64_t length, void** data,
               size_t* len);
KISEKI_API int kiseki_head(kiseki_client* c, kiseki_ns ns, const char* key, uint64_t* size, char etag[65]);
KISEKI_API int kiseki_delete(kiseki_client* c, kiseki_ns ns, const char* key);
/* Calls FN for every key under PREFIX, in order; a nonzero return stops. */
KISEKI_API int kiseki_list(kiseki_client* c, kiseki_ns ns, const char* prefix,
                int (*fn)(const char* key, uint64_t size, void* arg), void* arg);

/* Files by path from the namespace's root, as uid 0. */
KISEKI_API int kiseki_stat_path(kiseki_client* c, kiseki_ns ns, const char* path, kiseki_stat* out);
KISEKI_API int kiseki_mkdir(kiseki_client* c, kiseki_ns ns, const char* path, uint32_t mode);

#ifdef __cplusplus
}
#endif

#endif /* KISEKI_KISEKI_H */
