#include "gateway/permissions.h"

namespace kiseki::gateway {

namespace {
Status denied(std::string m) { return make_error(ErrorCode::kPermissionDenied, std::move(m)); }
Status not_permitted(std::string m) { return make_error(ErrorCode::kNotPermitted, std::move(m)); }
bool is_root(const Caller& who) { return who.uid == 0; }
}  // namespace

bool in_group(const Caller& who, uint32_t gid) {
  if (gid == who.gid) return true;
  for (auto g : who.groups)
    if (g == gid) return true;
  return false;
}

bool may(const Caller& who, const FileAttr& a, uint32_t want) {
  if (is_root(who)) {
    if (want & kMayExec) return a.type == FileType::kDirectory || (a.mode & 0111) != 0;
    return true;
  }
  uint32_t bits;
  if (who.uid == a.uid) bits = (a.mode >> 6) & 7;
  else if (in_group(who, a.gid)) bits = (a.mode >> 3) & 7;
  else bits = a.mode & 7;
  return (bits & want) == want;
}

Status check_data_access(const Caller& who, const FileAttr& file, uint32_t want) {
  if (may(who, file, want) || who.uid == file.uid) return Status::ok();
  return denied(want & kMayWrite ? "no write permission" : "no read permission");
}

Status check_search(const Caller& who, const FileAttr& dir) {
  return may(who, dir, kMayExec) ? Status::ok() : denied("no search permission on the directory");
}

Status check_list(const Caller& who, const FileAttr& dir) {
  return may(who, dir, kMayRead) ? Status::ok() : denied("no read permission on the directory");
}

Status check_dir_change(const Caller& who, const FileAttr& dir) {
  return may(who, dir, kMayWrite | kMayExec) ? Status::ok() : denied("no write permission on the directory");
}

Status check_sticky(const Caller& who, const FileAttr& dir, const FileAttr& victim) {
  if (!(dir.mode & 01000) || is_root(who) || who.uid == dir.uid || who.uid == victim.uid) return Status::ok();
  return not_permitted("sticky directory: only the owner may remove or replace this entry");
}

Status check_setattr(const Caller& who, const FileAttr& a, const SetAttrRequest& req) {
  bool owner = is_root(who) || who.uid == a.uid;
  if (req.mode && !owner) return not_permitted("only the owner may change the mode");
  if (req.uid && *req.uid != a.uid && !is_root(who)) return not_permitted("only root may change the owner");
  if (req.gid && *req.gid != a.gid && !(is_root(who) || (owner && in_group(who, *req.gid))))
    return not_permitted("only the owner may change the group, and only to one of its groups");
  if ((req.atime_ns || req.mtime_ns) && !owner && !may(who, a, kMayWrite)) return denied("no write permission");
  if (req.size && !may(who, a, kMayWrite) && who.uid != a.uid) return denied("no write permission");
  return Status::ok();
}

}  // namespace kiseki::gateway
