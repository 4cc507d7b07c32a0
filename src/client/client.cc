#include "client/client.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <thread>

#include "common/tls.h"

namespace kiseki::client {

using native::Op;

Status Client::malformed_answer() { return Status(ErrorCode::kIoError, "malformed answer from the server"); }

namespace {

Result<FileAttr> decode_attr_answer(const std::string& payload) {
  Decoder d(payload);
  FileAttr a;
  if (!native::decode_attr(d, &a)) return Client::malformed_answer();
  return a;
}

}  // namespace

Client::Client(const ClientOptions& o) : opts_(o) {
  do {
    RAND_bytes(reinterpret_cast<unsigned char*>(&client_id_), sizeof(client_id_));
  } while (client_id_ == 0);
  conns_.resize(std::max<size_t>(1, o.connections));
}

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& opts) {
  std::unique_ptr<Client> c(new Client(opts));
  if (opts.tls) {
    c->tls_.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    SSL_CTX* ctx = c->tls_.get();
    if (!ctx) return Status(ErrorCode::kIoError, "TLS: " + openssl_error_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = opts.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                  : SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr);
    if (ok != 1) return invalid_argument("TLS CA file " + opts.ca_file + ": " + openssl_error_text());
  }
  KISEKI_ASSIGN_OR_RETURN(auto conn, c->dial());
  c->conns_[0] = std::move(conn);
  return c;
}

Result<std::shared_ptr<Connection>> Client::dial() {
  KISEKI_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                          Connection::open(opts_.endpoint, std::chrono::milliseconds(5000), tls_.get()));
  std::string hello;
  Encoder(&hello).str(opts_.access_key);
  KISEKI_ASSIGN_OR_RETURN(std::string challenge, conn->call(static_cast<uint16_t>(Op::kHello), hello, opts_.deadline));
  std::string msg = native::auth_message(challenge, opts_.access_key);
  unsigned char mac[32];
  unsigned int mac_len = sizeof(mac);
  if (!HMAC(EVP_sha256(), opts_.secret_key.data(), static_cast<int>(opts_.secret_key.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &mac_len))
    return Status(ErrorCode::kIoError, "HMAC failed");
  auto who = conn->call(static_cast<uint16_t>(Op::kAuth), std::string_view(reinterpret_cast<char*>(mac), 32),
                        opts_.deadline);
  if (!who) return who.status();
  Decoder d(*who);
  TenantId tenant = d.u64();
  std::string name(d.str());
  if (!d.ok()) return malformed_answer();
  std::map<std::string, NamespaceId, std::less<>> mounted;
  {
    std::lock_guard lock(mu_);
    tenant_ = tenant;
    tenant_name_ = name;
    mounted = mounted_;
  }
  for (const auto& [ns_name, id] : mounted) {
    std::string args;
    Encoder(&args).str(ns_name);
    KISEKI_TRY(conn->call(static_cast<uint16_t>(Op::kMount), args, opts_.deadline).status());
  }
  return std::shared_ptr<Connection>(std::move(conn));
}

Result<std::shared_ptr<Connection>> Client::connection() {
  size_t i = next_.fetch_add(1, std::memory_order_relaxed) % conns_.size();
  {
    std::lock_guard lock(mu_);
    if (conns_[i] && !conns_[i]->broken()) return conns_[i];
  }
  auto fresh = dial();
  if (!fresh) {
    if (fresh.status().code() == ErrorCode::kPermissionDenied && opts_.on_refused) opts_.on_refused(fresh.status());
    return fresh.status();
  }
  std::lock_guard lock(mu_);
  if (!conns_[i] || conns_[i]->broken()) conns_[i] = *fresh;
  return conns_[i];
}

Result<std::string> Client::call(Op op, std::string_view payload) {
  auto give_up = std::chrono::steady_clock::now() + opts_.retry_for;
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    auto conn = connection();
    Result<std::string> r = conn ? (*conn)->call(static_cast<uint16_t>(op), payload, opts_.deadline)
                                 : Result<std::string>(conn.status());
    if (r || r.status().code() != ErrorCode::kUnavailable || std::chrono::steady_clock::now() >= give_up)
      return r;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

Status Client::ping() { return call(Op::kPing, {}).status(); }

Result<Mounted> Client::mount(std::string_view ns_name) {
  std::string args;
  Encoder(&args).str(ns_name);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kMount, args));
  Decoder d(r);
  Mounted m;
  m.ns = d.u64();
  if (!native::decode_attr(d, &m.root)) return malformed_answer();
  std::lock_guard lock(mu_);
  mounted_[std::string(ns_name)] = m.ns;
  // Only the connection that ran kMount has the namespace: every one is made
  // again on its next call, mounting all of mounted_ (calls already on one
  // keep it alive until they are answered).
  for (auto& c : conns_) c.reset();
  return m;
}

Caller Client::stamped(const Caller& who) {
  Caller c = who;
  if (c.req.empty()) c.req = RequestId{client_id_, seq_.fetch_add(1, std::memory_order_relaxed)};
  return c;
}

std::string Client::file_args(NamespaceId ns, const Caller& who, bool mutation) {
  std::string out;
  Encoder e(&out);
  e.u64(ns);
  native::encode_caller(e, mutation ? stamped(who) : who);
  return out;
}

Result<FileAttr> Client::attr_call(Op op, const std::string& payload) {
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(op, payload));
  return decode_attr_answer(r);
}

Result<FileAttr> Client::lookup(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who) {
  std::string a = file_args(ns, who, false);
  Encoder(&a).u64(parent).str(name);
  return attr_call(Op::kLookup, a);
}

Result<FileAttr> Client::getattr(NamespaceId ns, InodeId ino) {
  std::string a = file_args(ns, {}, false);
  Encoder(&a).u64(ino);
  return attr_call(Op::kGetattr, a);
}

Result<FileAttr> Client::setattr(NamespaceId ns, InodeId ino, const gateway::SetAttrRequest& req,
                                 const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder e(&a);
  e.u64(ino);
  native::encode_setattr(e, req);
  return attr_call(Op::kSetattr, a);
}

Result<FileAttr> Client::create(NamespaceId ns, InodeId parent, std::string_view name, uint32_t mode,
                                bool exclusive, const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name).u32(mode).u8(exclusive);
  return attr_call(Op::kCreate, a);
}

Result<FileAttr> Client::mkdir(NamespaceId ns, InodeId parent, std::string_view name, uint32_t mode,
                               const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name).u32(mode);
  return attr_call(Op::kMkdir, a);
}

Status Client::mknod(NamespaceId ns, const Caller& who) { return call(Op::kMknod, file_args(ns, who, true)).status(); }

Status Client::unlink(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name);
  return call(Op::kUnlink, a).status();
}

Status Client::rmdir(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name);
  return call(Op::kRmdir, a).status();
}

Status Client::rename(NamespaceId ns, InodeId parent, std::string_view name, InodeId new_parent,
                      std::string_view new_name, const Caller& who, bool no_replace) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name).u64(new_parent).str(new_name).u32(no_replace ? native::kRenameNoReplace : 0);
  return call(Op::kRename, a).status();
}

Result<FileAttr> Client::link(NamespaceId ns, InodeId ino, InodeId new_parent, std::string_view new_name,
                              const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(ino).u64(new_parent).str(new_name);
  return attr_call(Op::kLink, a);
}

Result<FileAttr> Client::symlink(NamespaceId ns, InodeId parent, std::string_view name, std::string_view target,
                                 const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(parent).str(name).str(target);
  return attr_call(Op::kSymlink, a);
}

Result<std::string> Client::readlink(NamespaceId ns, InodeId ino, const Caller& who) {
  std::string a = file_args(ns, who, false);
  Encoder(&a).u64(ino);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kReadlink, a));
  Decoder d(r);
  std::string target(d.str());
  if (!d.ok()) return malformed_answer();
  return target;
}

Result<std::vector<DirEntryPlus>> Client::readdirplus(NamespaceId ns, InodeId dir, uint64_t cookie, uint32_t max,
                                                      const Caller& who) {
  std::string a = file_args(ns, who, false);
  Encoder(&a).u64(dir).u64(cookie).u32(max);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kReaddirplus, a));
  Decoder d(r);
  uint32_t n = d.u32();
  if (!d.ok() || n > max) return malformed_answer();
  std::vector<DirEntryPlus> out(n);
  for (auto& e : out) {
    e.entry.name = std::string(d.str());
    e.entry.cookie = d.u64();
    if (!native::decode_attr(d, &e.attr)) return malformed_answer();
    e.entry.ino = e.attr.ino;
    e.entry.type = e.attr.type;
  }
  return out;
}

Result<FileAttr> Client::open(NamespaceId ns, InodeId ino, uint32_t flags, const Caller& who) {
  std::string a = file_args(ns, who, false);
  Encoder(&a).u64(ino).u32(flags);
  return attr_call(Op::kOpen, a);
}

Result<std::string> Client::read(NamespaceId ns, InodeId ino, uint64_t offset, uint64_t length,
                                 const Caller& who) {
  std::string out;
  while (length > 0) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(length, native::kMaxIo));
    std::string a = file_args(ns, who, false);
    Encoder(&a).u64(ino).u64(offset).u32(n);
    KISEKI_ASSIGN_OR_RETURN(std::string piece, call(Op::kRead, a));
    bool at_end = piece.size() < n;
    if (out.empty()) out = std::move(piece);
    else out += piece;
    if (at_end) break;
    offset += n;
    length -= n;
  }
  return out;
}

Result<FileAttr> Client::write(NamespaceId ns, InodeId ino, uint64_t offset, std::string_view data, bool stable,
                               const Caller& who) {
  Result<FileAttr> last = invalid_argument("nothing to write");
  do {
    std::string_view piece = data.substr(0, native::kMaxIo);
    std::string a = file_args(ns, who, true);
    Encoder(&a).u64(ino).u64(offset).u8(stable).raw(piece);
    last = attr_call(Op::kWrite, a);
    if (!last) return last;
    offset += piece.size();
    data.remove_prefix(piece.size());
  } while (!data.empty());
  return last;
}

Status Client::fsync(NamespaceId ns, InodeId ino, const Caller& who) {
  std::string a = file_args(ns, who, true);
  Encoder(&a).u64(ino);
  return call(Op::kFsync, a).status();
}

Result<gateway::FsStats> Client::statfs(NamespaceId ns, const Caller& who) {
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kStatfs, file_args(ns, who, false)));
  Decoder d(r);
  gateway::FsStats s;
  if (!native::decode_fsstats(d, &s)) return malformed_answer();
  return s;
}

}  // namespace kiseki::client
