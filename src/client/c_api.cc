// The C ABI (include/kiseki/kiseki.h) over the C++ client.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "client/client.h"
#include "client/errno.h"
#include "kiseki/kiseki.h"

using kiseki::Status;
using kiseki::client::Client;

struct kiseki_client {
  std::unique_ptr<Client> impl;
};

namespace {

thread_local std::string g_error;

int fail(const Status& st) {
  g_error = st.message();
  return -kiseki::client::to_errno(st.code());
}

int fail(int err, const char* why) {
  g_error = why;
  return -err;
}

uint32_t st_mode_of(const kiseki::gateway::FileAttr& a) {
  using kiseki::gateway::FileType;
  uint32_t t = a.type == FileType::kDirectory ? S_IFDIR : a.type == FileType::kSymlink ? S_IFLNK : S_IFREG;
  return t | (a.mode & 07777);
}

}  // namespace

extern "C" {

int kiseki_connect(const char* endpoint, const char* access_key, const char* secret_key, kiseki_client** out) {
  return kiseki_connect_tls(endpoint, access_key, secret_key, nullptr, 0, out);
}

int kiseki_connect_tls(const char* endpoint, const char* access_key, const char* secret_key, const char* ca_file,
                       int tls, kiseki_client** out) {
  if (!endpoint || !access_key || !secret_key || !out) return fail(EINVAL, "null argument");
  kiseki::client::ClientOptions o;
  o.endpoint = endpoint;
  o.access_key = access_key;
  o.secret_key = secret_key;
  o.tls = tls != 0 || (ca_file && *ca_file);
  if (ca_file) o.ca_file = ca_file;
  auto c = Client::connect(o);
  if (!c) return fail(c.status());
  *out = new kiseki_client{std::move(*c)};
  return 0;
}

void kiseki_disconnect(kiseki_client* c) { delete c; }
const char* kiseki_last_error(void) { return g_error.c_str(); }
void kiseki_free(void* p) { std::free(p); }

int kiseki_mount(kiseki_client* c, const char* ns_name, kiseki_ns* out) {
  if (!c || !ns_name || !out) return fail(EINVAL, "null argument");
  auto m = c->impl->mount(ns_name);
  if (!m) return fail(m.status());
  *out = m->ns;
  return 0;
}

int kiseki_put(kiseki_client* c, kiseki_ns ns, const char* key, const void* data, size_t len) {
  if (!c || !key || (!data && len)) return fail(EINVAL, "null argument");
  auto r = c->impl->put_object(ns, key, std::string_view(static_cast<const char*>(data), len));
  return r ? 0 : fail(r.status());
}

int kiseki_get(kiseki_client* c, kiseki_ns ns, const char* key, uint64_t offset, uint64_t length, void** data,
               size_t* len) {
  if (!c || !key || !data || !len) return fail(EINVAL, "null argument");
  std::optional<uint64_t> l;
  if (length != UINT64_MAX) l = length;
  auto r = c->impl->get_object(ns, key, offset, l);
  if (!r) return fail(r.status());
  void* p = std::malloc(r->size() ? r->size() : 1);
  if (!p) return fail(ENOMEM, "out of memory");
  std::memcpy(p, r->data(), r->size());
  *data = p;
  *len = r->size();
  return 0;
}

int kiseki_head(kiseki_client* c, kiseki_ns ns, const char* key, uint64_t* size, char etag[65]) {
  if (!c || !key) return fail(EINVAL, "null argument");
  auto r = c->impl->head_object(ns, key);
  if (!r) return fail(r.status());
  if (size) *size = r->size;
  if (etag) std::snprintf(etag, 65, "%s", r->etag.c_str());
  return 0;
}

int kiseki_delete(kiseki_client* c, kiseki_ns ns, const char* key) {
  if (!c || !key) return fail(EINVAL, "null argument");
  Status st = c->impl->delete_object(ns, key);
  return st ? 0 : fail(st);
}

int kiseki_list(kiseki_client* c, kiseki_ns ns, const char* prefix,
                int (*fn)(const char* key, uint64_t size, void* arg), void* arg) {
  if (!c || !fn) return fail(EINVAL, "null argument");
  kiseki::gateway::ListRequest req;
  req.prefix = prefix ? prefix : "";
  for (;;) {
    auto r = c->impl->list_objects(ns, req);
    if (!r) return fail(r.status());
    for (const auto& o : r->objects)
      if (fn(o.key.c_str(), o.size, arg) != 0) return 0;
    if (!r->truncated) return 0;
    req.start_after = r->next_start_after;
  }
}

int kiseki_stat_path(kiseki_client* c, kiseki_ns ns, const char* path, kiseki_stat* out) {
  if (!c || !path || !out) return fail(EINVAL, "null argument");
  auto a = c->impl->getattr(ns, kiseki::ns::kRootInode);
  std::string_view p(path);
  while (a && !p.empty()) {
    size_t slash = p.find('/');
    std::string_view name = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    if (!name.empty()) a = c->impl->lookup(ns, a->ino, name, {});
  }
  if (!a) return fail(a.status());
  *out = kiseki_stat{a->ino, st_mode_of(*a), a->uid, a->gid, a->nlink, a->size, a->mtime_ns, a->ctime_ns};
  return 0;
}

int kiseki_mkdir(kiseki_client* c, kiseki_ns ns, const char* path, uint32_t mode) {
  if (!c || !path) return fail(EINVAL, "null argument");
  std::string_view p(path);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  size_t slash = p.rfind('/');
  kiseki_stat parent{};
  std::string dir(slash == std::string_view::npos ? "" : p.substr(0, slash));
  if (int rc = kiseki_stat_path(c, ns, dir.c_str(), &parent); rc != 0) return rc;
  auto r = c->impl->mkdir(ns, parent.ino, slash == std::string_view::npos ? p : p.substr(slash + 1), mode, {});
  return r ? 0 : fail(r.status());
}

}  // extern "C"
