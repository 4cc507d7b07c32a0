// NFSv3 directory listings (READDIR, READDIRPLUS), file system information
// (FSSTAT, FSINFO, PATHCONF) and COMMIT.
#include "protocols/nfs/nfs3_call.h"

namespace kiseki::nfs {

uint32_t Nfs3Call::readdir(bool plus) {
  auto f = fh();
  uint64_t cookie = in_.u64();
  auto verf = in_.opaque_fixed(8);
  uint32_t dircount = plus ? in_.u32() : 0;
  uint32_t maxcount = in_.u32();
  if (!in_.ok()) return 0;
  Obj d;
  uint32_t st = resolve(f, &d);
  if (st == kNfs3Ok && d.attr.type != gateway::FileType::kDirectory) st = kNfs3ErrNotdir;
  if (st == kNfs3Ok) {
    if (Status p = gateway::check_list(cred_, d.attr); !p) st = nfs3_status(p);
  }
  // The cookie verifier is the directory's generation: cookies never change
  // meaning while the directory lives, so only a different directory (a
  // reused handle) invalidates them.
  std::string my_verf(8, '\0');
  put_be64(reinterpret_cast<uint8_t*>(my_verf.data()), d.attr.generation);
  if (st == kNfs3Ok && cookie != 0 && verf != std::string_view(my_verf) && verf != std::string_view("\0\0\0\0\0\0\0\0", 8))
    st = kNfs3ErrBadCookie;
  if (st != kNfs3Ok) {
    out_.u32(st);
    if (d.attr.ino != 0) post_op(d, d.attr);
    else put_post_op(out_, std::nullopt, 0);
    return st;
  }
  maxcount = std::min(maxcount, s_.opts_.max_io);
  if (!plus) dircount = maxcount;
  // Fixed reply bytes: status, dir attributes, verifier, list end, eof.
  size_t used = 4 + 4 + 84 + 8 + 4 + 4;
  size_t dir_used = 0;
  std::string entries;
  entries.reserve(std::min<size_t>(maxcount, 64 << 10));
  XdrEncoder ee(&entries);
  bool eof = false;
  size_t count = 0;
  // Attributes, and the handle's presence and length; the handle's bytes are added per entry.
  constexpr size_t kPlusFixed = 4 + 84 + 4 + 4;
  // With the shortest handle, for sizing batches: a batch fetches at least what
  // fits, so one fetch fills a reply.
  constexpr size_t kPlusLeast = kPlusFixed + ((HandleCodec::kMinSize + 3) & ~size_t{3});
  // Adds an entry if it fits; its attributes are fetched only then.
  auto add = [&](std::string_view nm, uint64_t ck, auto&& attrs) {
    size_t name_bytes = 4 + ((nm.size() + 3) & ~size_t{3});
    size_t dir_bytes = 8 + name_bytes + 8;
    size_t bytes = 4 + dir_bytes + (plus ? kPlusFixed : 0);
    if (used + bytes > maxcount || (plus && dir_used + dir_bytes > dircount)) return false;
    std::optional<FileAttr> a = attrs();
    if (!a) return true;  // removed meanwhile: skip it
    std::string handle;
    if (plus) {
      handle = handle_of(d, *a);
      bytes += (handle.size() + 3) & ~size_t{3};
      if (used + bytes > maxcount) return false;
    }
    used += bytes;
    dir_used += dir_bytes;
    ee.boolean(true).u64(a->ino).string(nm).u64(ck);
    if (plus) {
      put_post_op(ee, *a, d.exp->ns.ns);
      ee.boolean(true).opaque(handle);
    }
    ++count;
    return true;
  };
  bool full = false;
  if (cookie == 0) full = !add(".", 1, [&] { return std::optional<FileAttr>(d.attr); });
  if (cookie <= 1 && !full)
    full = !add("..", 2, [&] {
      auto parent = d.attr.parent == d.attr.ino ? Result<FileAttr>(d.attr) : s_.gw_->getattr(d.ns(), d.attr.parent);
      return std::optional<FileAttr>(parent ? *parent : d.attr);
    });
  uint64_t next = cookie < 2 ? 0 : cookie;
  while (!full) {
    // Fetch about as many entries as can still fit (names of 4 bytes or less), and one more.
    size_t room = (maxcount - std::min<size_t>(used, maxcount)) / (4 + 8 + 8 + 8 + (plus ? kPlusLeast : 0));
    if (plus) room = std::min(room, (dircount - std::min<size_t>(dir_used, dircount)) / (8 + 8 + 8));
    size_t batch = std::clamp<size_t>(room + 1, 1, 1024);
    // READDIRPLUS reads the attributes of the whole batch at once; plain READDIR
    // needs only names and inode numbers.
    Result<std::vector<gateway::DirEntryPlus>> r = std::vector<gateway::DirEntryPlus>{};
    if (plus) {
      r = s_.gw_->readdir_plus(d.ns(), d.attr.ino, next, batch, cred_);
    } else if (auto names = s_.gw_->readdir(d.ns(), d.attr.ino, next, batch, cred_); names) {
      for (auto& e : *names) {
        FileAttr a;
        a.ino = e.ino;
        r->push_back(gateway::DirEntryPlus{std::move(e), a});
      }
    } else {
      r = names.status();
    }
    if (!r) {
      st = r.status().code() == ErrorCode::kInvalidArgument ? kNfs3ErrBadCookie : nfs3_status(r.status());
      break;
    }
    for (const auto& e : *r) {
      if (!add(e.entry.name, e.entry.cookie, [&] { return std::optional<FileAttr>(e.attr); })) {
        full = true;
        break;
      }
      next = e.entry.cookie;
    }
    if (!full && r->size() < batch) {
      // Short: the end (readdir_plus says so), unless a plain readdir skipped
      // entries removed meanwhile.
      if (!plus) {
        auto more = s_.gw_->readdir(d.ns(), d.attr.ino, next, 1, cred_);
        if (more && !more->empty()) continue;
      }
      eof = true;
      break;
    }
  }
  if (st == kNfs3Ok && count == 0 && !eof) st = kNfs3ErrToosmall;
  out_.u32(st);
  post_op(d, d.attr);
  if (st != kNfs3Ok) return st;
  out_.opaque_fixed(my_verf);
  out_.out()->append(entries);
  out_.boolean(false);
  out_.boolean(eof);
  return kNfs3Ok;
}

uint32_t Nfs3Call::fsstat() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  uint32_t st = resolve(f, &o);
  gateway::FsStats fs;
  if (st == kNfs3Ok) {
    auto r = s_.gw_->statfs();
    if (r) fs = *r;
    else st = kNfs3ErrIo;
  }
  out_.u32(st);
  if (st != kNfs3Ok) {
    if (o.attr.ino) post_op(o, o.attr);
    else put_post_op(out_, std::nullopt, 0);
    return st;
  }
  post_op(o, o.attr);
  uint64_t tbytes = fs.total_bytes, fbytes = fs.free_bytes, abytes = fs.avail_bytes;
  out_.u64(tbytes).u64(fbytes).u64(abytes);
  // Inodes live in the metadata store, not in the file system's inode table:
  // the files that fit are bounded by space.
  out_.u64(tbytes / kBytesPerInode).u64(fbytes / kBytesPerInode).u64(abytes / kBytesPerInode);
  out_.u32(0);  // invarsec: the values change at any time
  return kNfs3Ok;
}

uint32_t Nfs3Call::fsinfo() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  out_.u32(kNfs3Ok);
  post_op(o, o.attr);
  uint32_t io = s_.opts_.max_io;
  out_.u32(io).u32(io).u32(4096);  // rtmax rtpref rtmult
  out_.u32(io).u32(io).u32(4096);  // wtmax wtpref wtmult
  out_.u32(64 << 10);              // dtpref
  out_.u64(kMaxFileSize);
  out_.u32(0).u32(1);  // time_delta: nanoseconds
  out_.u32(kFsfLink | kFsfSymlink | kFsfHomogeneous | kFsfCanSetTime);
  return kNfs3Ok;
}

uint32_t Nfs3Call::pathconf() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  out_.u32(kNfs3Ok);
  post_op(o, o.attr);
  out_.u32(UINT32_MAX);    // linkmax: nlink is 32 bits, nothing lower is enforced
  out_.u32(kMaxNameLen);   // name_max
  out_.boolean(true);      // no_trunc: longer names are refused
  out_.boolean(true);      // chown_restricted: only root gives files away
  out_.boolean(false);     // case_insensitive
  out_.boolean(true);      // case_preserving
  return kNfs3Ok;
}

uint32_t Nfs3Call::commit() {
  auto f = fh();
  (void)in_.u64();  // offset and count: Kiseki commits the whole file system log at once
  (void)in_.u32();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kWcc)) return st;
  uint32_t st = kNfs3Ok;
  if (o.attr.type != gateway::FileType::kFile) st = kNfs3ErrInval;
  else if (Status fs = s_.gw_->fsync(o.ns(), o.attr.ino); !fs) st = nfs3_status(fs);
  out_.u32(st);
  put_pre_op(out_, o.attr);
  post_op(o, o.attr);
  if (st == kNfs3Ok)
    out_.opaque_fixed(std::string_view(reinterpret_cast<const char*>(s_.write_verf_.data()), 8));
  return st;
}

}  // namespace kiseki::nfs
