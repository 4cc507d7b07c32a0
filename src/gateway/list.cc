// ListObjects over the inode tree in S3 byte order.
//
// Within one directory the dentries come in name order, but S3 orders a
// directory `d` as the key prefix "d/", which sorts after names like "d-x" and
// "d.x". The walker merges the two: directories wait in a small heap keyed by
// "name/" and are entered when the scan passes that key. A directory that
// carries an object (ADR 0013) lists it at its own key "d", before "d-x".
#include <queue>
#include <unordered_map>

#include "gateway/local_gateway.h"

namespace kiseki::gateway {

using meta::Cf;

namespace {

struct Walk {
  const meta::Store& store;
  NsRef ns;
  const ListRequest& req;
  std::function<Status(const std::string& key, InodeId ino)> on_file;
  std::function<bool(const std::string& prefix)> on_prefix;  // false: stop
  // A directory's flags (ns::InodeFlags): an explicit one is listed as
  // "dpath/", one with kDirObject as "dpath" too.
  std::function<Result<uint32_t>(InodeId dir)> dir_flags;
  std::unordered_map<InodeId, uint32_t> flags_seen;  // read at the scan, used again on entering
  bool stop = false;

  // Visits `dir` (whose keys all start with `path`), emitting keys > start_after
  // that start with req.prefix.
  Status visit(InodeId dir, const std::string& path) {
    std::string dprefix = meta::dentry_prefix(ns.ns, dir);
    auto it = store.iterator(Cf::kDentries);
    // Seek to the first name that can matter: the prefix's next component and
    // the start_after key's next component bound it from below.
    std::string seek;
    if (req.prefix.size() > path.size()) seek = component_after(req.prefix, path);
    if (req.start_after.compare(0, path.size(), path) == 0 && req.start_after.size() > path.size()) {
      // A directory "d" holds keys "d/…", which sort after "d-x" although "d"
      // sorts before it: seek no further than the component's first byte below '/'.
      std::string c = component_after(req.start_after, path);
      size_t cut = 0;
      while (cut < c.size() && static_cast<unsigned char>(c[cut]) > '/') ++cut;
      seek = std::max(seek, c.substr(0, cut));
    }
    it->Seek(dprefix + seek);
    using Pending = std::pair<std::string, InodeId>;  // ("name/", ino)
    std::priority_queue<Pending, std::vector<Pending>, std::greater<>> dirs;
    auto flush_dirs = [&](const std::string* upto) -> Status {
      while (!dirs.empty() && !stop && (upto == nullptr || dirs.top().first < *upto)) {
        Pending p = dirs.top();
        dirs.pop();
        KISEKI_TRY(enter(p.second, path + p.first));
      }
      return Status::ok();
    };
    for (; it->Valid() && it->key().starts_with(dprefix) && !stop; it->Next()) {
      std::string name(it->key().ToStringView().substr(dprefix.size()));
      std::string key = path + name;
      // Past the prefix: nothing later in this directory can match.
      size_t common = std::min(key.size(), req.prefix.size());
      if (key.compare(0, common, req.prefix, 0, common) > 0) break;
      ns::Dentry de;
      KISEKI_TRY(ns::decode_dentry(it->value().ToStringView(), &de));
      KISEKI_TRY(flush_dirs(&name));
      if (stop) break;
      if (de.type == FileType::kDirectory) {
        dirs.push({name + "/", de.ino});
        if (key.compare(0, req.prefix.size(), req.prefix) != 0 || key <= req.start_after) continue;
        KISEKI_ASSIGN_OR_RETURN(uint32_t flags, dir_flags(de.ino));
        flags_seen[de.ino] = flags;
        if (flags & ns::kDirObject) KISEKI_TRY(emit_key(key, de.ino));
        continue;
      }
      if (de.type != FileType::kFile) continue;
      if (key.compare(0, req.prefix.size(), req.prefix) != 0 || key <= req.start_after) continue;
      KISEKI_TRY(emit_key(key, de.ino));
    }
    return flush_dirs(nullptr);
  }

  // A directory whose keys start with `dpath` ("a/b/").
  Status enter(InodeId ino, const std::string& dpath) {
    // Skip subtrees wholly before start_after or outside the prefix.
    size_t common = std::min(dpath.size(), req.prefix.size());
    if (dpath.compare(0, common, req.prefix, 0, common) != 0) return Status::ok();
    if (dpath <= req.start_after && req.start_after.compare(0, dpath.size(), dpath) != 0) return Status::ok();
    // The folder marker sorts before everything below it.
    if (dpath.compare(0, req.prefix.size(), req.prefix) == 0 && dpath > req.start_after) {
      uint32_t flags;
      if (auto seen = flags_seen.find(ino); seen != flags_seen.end()) {
        flags = seen->second;
        flags_seen.erase(seen);
      } else {
        KISEKI_ASSIGN_OR_RETURN(flags, dir_flags(ino));
      }
      if (!(flags & ns::kImplicitDir)) {
        KISEKI_TRY(emit_key(dpath, ino));
        if (stop) return Status::ok();
      }
    }
    if (!req.delimiter.empty() && dpath.size() >= req.prefix.size()) {
      // The first delimiter after the prefix may fall inside this directory's path.
      size_t d = dpath.find(req.delimiter, req.prefix.size());
      if (d != std::string::npos) {
        std::string cp = dpath.substr(0, d + req.delimiter.size());
        if (cp == dpath) {  // the whole directory rolls up into one common prefix
          if (cp > req.start_after && cp != last_prefix_) {
            last_prefix_ = cp;
            if (!on_prefix(cp)) stop = true;
          }
          return Status::ok();
        }
      }
    }
    return visit(ino, dpath);
  }

  Status emit_key(const std::string& key, InodeId ino) {
    if (!req.delimiter.empty()) {
      size_t d = key.find(req.delimiter, req.prefix.size());
      if (d != std::string::npos) {
        std::string cp = key.substr(0, d + req.delimiter.size());
        if (cp != last_prefix_ && cp > req.start_after) {
          last_prefix_ = cp;
          if (!on_prefix(cp)) stop = true;
        }
        return Status::ok();
      }
    }
    return on_file(key, ino);
  }

  static std::string component_after(const std::string& s, const std::string& path) {
    size_t slash = s.find('/', path.size());
    return s.substr(path.size(), slash == std::string::npos ? std::string::npos : slash - path.size());
  }

  std::string last_prefix_;
};

}  // namespace

Result<ListResult> LocalGateway::list_objects(NsRef ns, const ListRequest& req) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  if (req.prefix.size() > kMaxKeyBytes || req.start_after.size() > kMaxKeyBytes)
    return invalid_argument("prefix or marker longer than a key may be");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  ListResult out;
  if (req.max_keys == 0) return out;
  size_t count = 0;
  Walk w{store_of(ns.ns), ns, req, {}, {}};
  w.on_file = [&](const std::string& key, InodeId ino) -> Status {
    if (count == req.max_keys) {
      out.truncated = true;
      w.stop = true;
      return Status::ok();
    }
    ns::Inode i;
    KISEKI_TRY(load_inode(ns, ino, &i));
    Content c;
    KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
    out.objects.push_back(object_info(key, i, c));
    out.next_start_after = key;
    ++count;
    return Status::ok();
  };
  w.dir_flags = [&](InodeId dir) -> Result<uint32_t> {
    ns::Inode i;
    Status st = load_inode(ns, dir, &i);
    if (st.code() == ErrorCode::kNotFound || st.code() == ErrorCode::kStale) return uint32_t{ns::kImplicitDir};
    KISEKI_TRY(st);
    return i.flags;
  };
  w.on_prefix = [&](const std::string& p) {
    if (count == req.max_keys) {
      out.truncated = true;
      return false;
    }
    out.common_prefixes.push_back(p);
    out.next_start_after = p;
    ++count;
    return true;
  };
  KISEKI_TRY(w.visit(ns::kRootInode, ""));
  if (!out.truncated) out.next_start_after.clear();
  return out;
}

}  // namespace kiseki::gateway
