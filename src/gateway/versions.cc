// Gateway object versions (ADR 0012): the versioned DELETE, a version by id
// (read, removed), and the listing of versions. Writers decide what becomes a
// version (replace_target, objects.cc) and say it in their record, so every
// replica applies the same thing whatever its cache of the versioning state.

#include "gateway/local_gateway.h"
#include "gateway/object_util.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Inode;
using ns::Op;

namespace {

bool is_marker(const Inode& i) { return (i.flags & ns::kDeleteMarker) != 0; }

std::string id_of(const Content& c) { return c.version_id.empty() ? std::string(kNullVersion) : c.version_id; }

}  // namespace

Result<Versioning> LocalGateway::versioning_of(NsRef ns) const {
  auto doc = get_namespace_config(ns, kVersioningItem);
  if (!doc) return doc.code() == ErrorCode::kNotFound ? Result<Versioning>(Versioning::kOff) : doc.status();
  if (*doc == "Enabled") return Versioning::kEnabled;
  if (*doc == "Suspended") return Versioning::kSuspended;
  return corruption("versioning item: " + *doc);
}

Result<std::vector<LocalGateway::VersionEntry>> LocalGateway::key_versions(NsRef ns, std::string_view key) const {
  std::vector<VersionEntry> out;
  std::string prefix = meta::dentry_key(ns.ns, ns::kVersionsInode, key);
  prefix.push_back('\0');
  auto it = store_of(ns.ns).iterator(Cf::kDentries);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    ns::Dentry de;
    KISEKI_TRY(ns::decode_dentry(it->value().ToStringView(), &de));
    VersionEntry e;
    e.name = std::string(key) + '\0' + std::string(it->key().ToStringView().substr(prefix.size()));
    e.id = std::string(version_id_of(std::string_view(e.name).substr(key.size() + 1)));
    KISEKI_TRY(load_inode(ns, de.ino, &e.inode));
    out.push_back(std::move(e));
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan versions"));
  return out;
}

Result<LocalGateway::VersionTimes> LocalGateway::version_times(NsRef ns, std::string_view key, const Inode* cur,
                                                                const Content* c) const {
  VersionTimes t;
  // The newest kept version is the key's first entry: one seek, no inode read.
  std::string prefix = meta::dentry_key(ns.ns, ns::kVersionsInode, key);
  prefix.push_back('\0');
  auto it = store_of(ns.ns).iterator(Cf::kDentries);
  it->Seek(prefix);
  if (it->Valid() && it->key().starts_with(prefix))
    t.kept = version_time_ns(it->key().ToStringView().substr(prefix.size()));
  KISEKI_TRY(meta::from_rocks(it->status(), "scan versions"));
  if (cur && c) {
    t.current = c->version_id.empty() ? std::max(cur->object_mtime(), t.kept == INT64_MIN ? INT64_MIN : t.kept + 1)
                                      : version_time_ns(c->version_id);
  }
  return t;
}

void LocalGateway::keep_current(std::string_view key, const Content& c, int64_t null_ns, Delta* d) const {
  d->flags |= ns::kKeepVersion;
  d->name2 = version_entry(key, c.version_id, null_ns);
}

Status LocalGateway::drop_kept_null(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                    std::vector<Delta>* record) const {
  KISEKI_ASSIGN_OR_RETURN(auto kept, key_versions(ns, key));
  for (const auto& e : kept)
    if (e.id == kNullVersion) {
      KISEKI_ASSIGN_OR_RETURN(Delta drop, drop_version(ns, kek, e));
      record->push_back(std::move(drop));
    }
  return Status::ok();
}

Result<Delta> LocalGateway::drop_version(NsRef ns, const crypto::SecretKey& kek, const VersionEntry& v) const {
  Delta d;
  d.op = Op::kDeleteVersion;
  d.ns = ns.ns;
  d.name = v.name;
  d.ino = v.inode.ino;
  d.version = v.inode.version;
  d.time_ns = now();
  if (!is_marker(v.inode) && !v.inode.content.empty()) {
    Content c;
    KISEKI_TRY(open_content(kek, ns.ns, v.inode.content, &c));
    add_unrefs(c.extents, &d);
  }
  return d;
}

Status LocalGateway::restore_newest(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                    const std::vector<VersionEntry>& rest, const Inode* cur,
                                    const Content* cur_content, std::vector<Delta>* out) const {
  if (rest.empty() || is_marker(rest.front().inode)) {
    if (!cur) return Status::ok();
    // The current object goes and the key is left without one.
    Delta d;
    d.op = Op::kDeleteObject;
    d.ns = ns.ns;
    d.name = std::string(key);
    d.ino = cur->ino;
    d.version = cur->version;
    d.time_ns = now();
    if (owns_content(*cur)) add_unrefs(cur_content->extents, &d);
    out->push_back(std::move(d));
    return Status::ok();
  }
  // The newest version becomes the object: its sealed content as it is, with
  // references of its own, then the version goes with its references.
  const VersionEntry& v = rest.front();
  Content c;
  KISEKI_TRY(open_content(kek, ns.ns, v.inode.content, &c));
  Delta put = object_delta(ns, key, v.inode.size);
  put.inode.attr = v.inode.attr;
  put.inode.btime_ns = v.inode.btime_ns;
  put.inode.content = v.inode.content;
  put.inode.lock = v.inode.lock;
  if (cur) {
    put.version = cur->version;
    add_unrefs(cur_content->extents, &put);
  }
  add_refs(c.extents, {}, &put);
  out->push_back(std::move(put));
  KISEKI_ASSIGN_OR_RETURN(Delta drop, drop_version(ns, kek, v));
  out->push_back(std::move(drop));
  return Status::ok();
}

Result<DeletedObject> LocalGateway::delete_versioned(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                                     Versioning v, const DeleteConditions& cond, const Caller& who) {
  KISEKI_TRY(validate_key(key));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KISEKI_TRY(log_of(ns.ns).read_barrier());
    std::vector<Delta> record;
    Inode cur;
    VersionTimes times;
    auto found = resolve_key(ns, key, &cur);
    if (!found && found.code() != ErrorCode::kNotFound) return found.status();
    if (!found) {
      KISEKI_ASSIGN_OR_RETURN(times, version_times(ns, key, nullptr, nullptr));
    }
    if (found) {
      Content c;
      KISEKI_TRY(open_content(kek, ns.ns, cur.content, &c));
      if (cond.if_unmodified_since_ns && cur.object_mtime() > *cond.if_unmodified_since_ns)
        return make_error(ErrorCode::kPreconditionFailed, "the object was written since");
      if (cond.if_match && c.etag != *cond.if_match)
        return make_error(ErrorCode::kPreconditionFailed, "the object's ETag is not the one expected");
      Delta d;
      d.op = Op::kDeleteObject;
      d.ns = ns.ns;
      d.name = std::string(key);
      d.ino = cur.ino;
      d.version = cur.version;
      d.time_ns = now();
      KISEKI_ASSIGN_OR_RETURN(times, version_times(ns, key, &cur, &c));
      bool keep = v == Versioning::kEnabled || !c.version_id.empty();
      if (keep) {
        keep_current(key, c, times.current, &d);
        // An inode with other links keeps its references; the version gets its own.
        if (!owns_content(cur)) add_refs(c.extents, {}, &d);
      } else if (owns_content(cur)) {
        add_unrefs(c.extents, &d);  // a null object goes: the marker is the null version now
      }
      record.push_back(std::move(d));
      if (keep && c.version_id.empty() && v == Versioning::kEnabled) KISEKI_TRY(drop_kept_null(ns, key, kek, &record));
    } else if (cond.if_match) {
      return make_error(ErrorCode::kPreconditionFailed, "no such key");
    }
    // A null marker replaces the null version kept earlier.
    if (v == Versioning::kSuspended) KISEKI_TRY(drop_kept_null(ns, key, kek, &record));
    Delta m;
    m.op = Op::kPutDeleteMarker;
    m.ns = ns.ns;
    m.time_ns = times.next(now());
    std::string id = v == Versioning::kEnabled ? new_version_id(m.time_ns) : "";
    m.name = version_entry(key, id, m.time_ns);
    m.name2 = std::string(key);
    m.inode.attr = {0644, 0, 0, m.time_ns, m.time_ns, m.time_ns};
    record.push_back(std::move(m));
    Status st = submit(std::move(record), true, who).status();
    if (st.is_ok()) return DeletedObject{id.empty() ? std::string(kNullVersion) : id, true};
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "delete kept conflicting with concurrent changes");
}

Result<std::optional<std::string>> LocalGateway::file_key(NsRef ns, InodeId dir, std::string_view name) const {
  using Key = std::optional<std::string>;
  std::string key(name);
  for (int depth = 0; dir != ns::kRootInode; ++depth) {
    if (depth > 4096 || dir == kInvalidInode) return Key();
    Inode d;
    KISEKI_TRY(load_inode(ns, dir, &d));
    std::string dname = d.name;
    if (dname.empty()) {
      // Made before directories kept their names: found in the parent's entries.
      auto it = store_of(ns.ns).iterator(Cf::kDirCookies);
      std::string prefix = meta::dentry_prefix(ns.ns, d.parent);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && dname.empty(); it->Next()) {
        ns::DirCookieEntry e;
        if (ns::decode_dircookie(it->value().ToStringView(), &e) && e.ino == dir) dname = e.name;
      }
      KISEKI_TRY(meta::from_rocks(it->status(), "scan directory"));
      if (dname.empty()) return Key();
    }
    key.insert(0, dname + "/");
    dir = d.parent;
  }
  if (!validate_key(key)) return Key();
  return Key(std::move(key));
}

Result<std::string> LocalGateway::version_before_write(NsRef ns, const Inode& i, Content* c) const {
  KISEKI_ASSIGN_OR_RETURN(Versioning v, versioning_of(ns));
  bool keep = (v == Versioning::kEnabled && now() - i.attr.mtime_ns > kVersionBurstNs) ||
              (v == Versioning::kSuspended && !c->version_id.empty());
  if (!keep || i.parent == kInvalidInode || i.name.empty()) return std::string();
  KISEKI_ASSIGN_OR_RETURN(auto key, file_key(ns, i.parent, i.name));
  if (!key) return std::string();
  KISEKI_ASSIGN_OR_RETURN(VersionTimes times, version_times(ns, *key, &i, c));
  std::string entry = version_entry(*key, c->version_id, times.current);
  c->version_id = v == Versioning::kEnabled ? new_version_id(times.next(now())) : "";
  return entry;
}

Result<bool> LocalGateway::keep_rename_target(NsRef ns, InodeId dir, std::string_view name, const Inode& victim,
                                              Delta* d) const {
  if (victim.type != FileType::kFile) return false;
  KISEKI_ASSIGN_OR_RETURN(Versioning v, versioning_of(ns));
  if (v == Versioning::kOff) return false;
  KISEKI_ASSIGN_OR_RETURN(auto key, file_key(ns, dir, name));
  if (!key) return false;
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Content c;
  KISEKI_TRY(open_content(kek, ns.ns, victim.content, &c));
  if (v == Versioning::kSuspended && c.version_id.empty()) return false;  // a null version is replaced
  d->flags |= ns::kKeepVersion;
  // A key has one null version: a null file renamed over a null one keeps the
  // one it replaces under an id of its own.
  KISEKI_ASSIGN_OR_RETURN(VersionTimes times, version_times(ns, *key, &victim, &c));
  std::string id = c.version_id;
  if (id.empty()) id = new_version_id(times.current);
  d->blob = version_entry(*key, id, times.current);
  if (victim.nlink > 1) add_refs(c.extents, {}, d);  // its other links keep theirs
  return true;
}

Status LocalGateway::find_version(NsRef ns, std::string_view key, std::string_view version_id,
                                  const crypto::SecretKey& kek, Inode* i, Content* c) const {
  if (!well_formed_version_id(version_id)) return not_found("no such version");
  auto found = resolve_key(ns, key, i);
  if (!found && found.code() != ErrorCode::kNotFound) return found.status();
  if (found) {
    KISEKI_TRY(open_content(kek, ns.ns, i->content, c));
    if (id_of(*c) == version_id) return Status::ok();
  }
  if (is_folder_key(key)) return not_found("no such version");
  KISEKI_ASSIGN_OR_RETURN(auto kept, key_versions(ns, key));
  auto v = std::find_if(kept.begin(), kept.end(), [&](const VersionEntry& e) { return e.id == version_id; });
  if (v == kept.end()) return not_found("no such version");
  *i = v->inode;
  *c = Content{};
  if (!is_marker(*i)) KISEKI_TRY(open_content(kek, ns.ns, i->content, c));
  // A kept version's id is its entry's.
  c->version_id = v->id == kNullVersion ? "" : v->id;
  return Status::ok();
}

Result<ObjectHandle> LocalGateway::open_object_version(NsRef ns, std::string_view key,
                                                       std::string_view version_id) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  auto c = std::make_shared<Content>();
  Inode i;
  KISEKI_TRY(find_version(ns, key, version_id, kek, &i, c.get()));
  ObjectHandle h;
  h.tenant = ns.tenant;
  h.info = object_info(key, i, *c);
  h.info.version_id = id_of(*c);
  h.info.delete_marker = is_marker(i);
  h.content = std::move(c);
  return h;
}

Result<DeletedObject> LocalGateway::delete_object_version(NsRef ns, std::string_view key,
                                                          std::string_view version_id, bool bypass_governance) {
  if (!well_formed_version_id(version_id)) return invalid_argument("invalid version id");
  KISEKI_TRY(validate_key(key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  if (is_folder_key(key)) {
    if (version_id != kNullVersion) return not_found("no such version");
    KISEKI_TRY(delete_object(ns, key));
    return DeletedObject{std::string(kNullVersion), false};
  }
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KISEKI_TRY(log_of(ns.ns).read_barrier());
    Inode cur;
    Content cc;
    auto found = resolve_key(ns, key, &cur);
    if (!found && found.code() != ErrorCode::kNotFound) return found.status();
    if (found) KISEKI_TRY(open_content(kek, ns.ns, cur.content, &cc));
    KISEKI_ASSIGN_OR_RETURN(auto kept, key_versions(ns, key));
    std::vector<Delta> record;
    DeletedObject out{std::string(version_id), false};
    if (found && id_of(cc) == version_id) {
      // The current version goes; the newest other one takes its place.
      KISEKI_TRY(restore_newest(ns, key, kek, kept, &cur, &cc, &record));
    } else {
      auto v = std::find_if(kept.begin(), kept.end(), [&](const VersionEntry& e) { return e.id == version_id; });
      if (v == kept.end()) return not_found("no such version");
      out.delete_marker = is_marker(v->inode);
      KISEKI_ASSIGN_OR_RETURN(Delta drop, drop_version(ns, kek, *v));
      record.push_back(std::move(drop));
      // The newest version was a delete marker: the one below it, if an
      // object, is current again.
      if (!found && v == kept.begin()) {
        std::vector<VersionEntry> rest(kept.begin() + 1, kept.end());
        KISEKI_TRY(restore_newest(ns, key, kek, rest, nullptr, nullptr, &record));
      }
    }
    if (bypass_governance)
      for (auto& d : record) d.flags |= ns::kBypassGovernance;
    Status st = submit(std::move(record)).status();
    if (st.is_ok()) return out;
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "delete kept conflicting with concurrent changes");
}

Result<VersionList> LocalGateway::list_object_versions(NsRef ns, const VersionListRequest& req) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  const uint32_t want = req.max_keys;
  // The current objects after the key marker (a key's current version comes
  // before its others, so a marker inside a key has passed it).
  ListRequest lr;
  lr.prefix = req.prefix;
  lr.start_after = req.key_marker;
  lr.max_keys = want + 1;
  KISEKI_ASSIGN_OR_RETURN(ListResult current, list_objects(ns, lr));
  // The kept versions, from the marker on.
  const std::string dprefix = meta::dentry_prefix(ns.ns, ns::kVersionsInode);
  std::string from = req.prefix;
  bool inside_marker = false;  // resuming within the marker key's versions
  if (!req.key_marker.empty() && req.key_marker >= req.prefix) {
    from = req.key_marker;
    from.push_back(req.version_id_marker.empty() ? '\x01' : '\0');
    inside_marker = !req.version_id_marker.empty();
  }
  auto it = store_of(ns.ns).iterator(Cf::kDentries);
  it->Seek(dprefix + from);
  if (inside_marker) {
    // Past the marker's version. A real id names its entry (or, for the
    // current version's id, sorts before every kept one), so a seek finds the
    // place even if that version has gone since; a null one is looked for.
    std::string marker_prefix = dprefix + req.key_marker + '\0';
    if (req.version_id_marker != kNullVersion) {
      it->Seek(marker_prefix + req.version_id_marker);
      if (it->Valid() && it->key().ToStringView() == marker_prefix + req.version_id_marker) it->Next();
    } else {
      bool passed = false;
      for (; it->Valid() && it->key().starts_with(marker_prefix); it->Next()) {
        if (it->key().ToStringView().ends_with(kNullVersion)) {
          passed = true;
          it->Next();
          break;
        }
      }
      if (!passed) it->Seek(marker_prefix);  // the null version is the current one
    }
  }

  VersionList out;
  size_t ci = 0;
  // The key of the last version listed (the marker's, resuming inside it).
  std::string last_key = inside_marker ? req.key_marker : "";
  auto emit = [&](ObjectVersion v) {
    last_key = v.info.key;
    out.versions.push_back(std::move(v));
  };
  while (out.versions.size() <= want) {
    bool have_kept = it->Valid() && it->key().starts_with(dprefix);
    std::string kept_name, kept_key;
    if (have_kept) {
      kept_name = std::string(it->key().ToStringView().substr(dprefix.size()));
      kept_key = kept_name.substr(0, kept_name.find('\0'));
      if (!kept_key.starts_with(req.prefix)) have_kept = false;
    }
    bool have_cur = ci < current.objects.size();
    if (!have_cur && current.truncated) break;  // more current objects than fit
    if (!have_cur && !have_kept) break;
    if (have_cur && (!have_kept || current.objects[ci].key <= kept_key)) {
      ObjectVersion v{current.objects[ci++], true};
      if (v.info.version_id.empty()) v.info.version_id = kNullVersion;
      emit(std::move(v));
      continue;
    }
    ns::Dentry de;
    KISEKI_TRY(ns::decode_dentry(it->value().ToStringView(), &de));
    Inode i;
    KISEKI_TRY(load_inode(ns, de.ino, &i));
    Content c;
    if (!is_marker(i)) KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
    ObjectVersion v{object_info(kept_key, i, c), false};
    v.info.version_id = std::string(version_id_of(std::string_view(kept_name).substr(kept_key.size() + 1)));
    v.info.delete_marker = is_marker(i);
    // The newest of a key without a current object is the latest.
    v.latest = kept_key != last_key;
    emit(std::move(v));
    it->Next();
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan versions"));
  if (out.versions.size() > want) {
    out.versions.resize(want);
    out.truncated = true;
  }
  return out;
}

Status LocalGateway::set_object_lock(NsRef ns, std::string_view key, std::string_view version_id, uint64_t mask,
                                     const ns::ObjectLock& lock, bool bypass_governance) {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KISEKI_TRY(log_of(ns.ns).read_barrier());
    Inode i;
    Content c;
    if (version_id.empty()) {
      KISEKI_TRY(resolve_key(ns, key, &i).status());
    } else {
      KISEKI_TRY(find_version(ns, key, version_id, kek, &i, &c));
    }
    if (is_folder_key(key) || !i.has_object() || is_marker(i)) return invalid_argument("only objects are locked");
    Delta d;
    d.op = Op::kSetLock;
    d.ns = ns.ns;
    d.ino = i.ino;
    d.version = i.version;
    d.a = mask;
    d.time_ns = now();
    d.inode.lock = lock;
    if (bypass_governance) d.flags |= ns::kBypassGovernance;
    Status st = submit({d}).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "lock change kept conflicting with concurrent changes");
}

}  // namespace kiseki::gateway
