// Random file and object operations against an in-memory model of the tree,
// checked after every batch: listings, attributes and contents equal the model,
// nlink counts are right, every chunk's reference count equals the layout
// references to it, and nothing unreferenced is left behind. Seeded and
// replayable: KISEKI_MODEL_SEED=N runs one seed; a failure names its seed.
// Keys that are also prefixes (ADR 0013) are in the model: a directory may
// carry an object, written through S3 and through its ".kiseki-object" entry.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "fixture.h"

namespace kiseki::gateway {
namespace {

struct MInode {
  bool dir = false;
  bool implicit = false;  // made for an S3 key prefix
  std::string data;  // a file's, or the object a directory carries
  int nlink = 0;
  bool object = false;  // a directory that carries an object
};

// The tree as paths ("a/b/c") to inode numbers of the model.
struct Model {
  std::map<std::string, int> entries;
  std::map<int, MInode> inodes;
  int next = 1;

  static std::string parent_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? "" : p.substr(0, s);
  }
  static std::string leaf_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
  }
  bool is_dir(const std::string& p) const {
    if (p.empty()) return true;
    auto it = entries.find(p);
    return it != entries.end() && inodes.at(it->second).dir;
  }
  bool is_file(const std::string& p) const {
    auto it = entries.find(p);
    return it != entries.end() && !inodes.at(it->second).dir;
  }
  std::vector<std::string> children(const std::string& dir) const {
    std::vector<std::string> out;
    std::string prefix = dir.empty() ? "" : dir + "/";
    for (auto it = entries.lower_bound(prefix); it != entries.end() && it->first.starts_with(prefix); ++it)
      if (it->first.find('/', prefix.size()) == std::string::npos) out.push_back(it->first);
    return out;
  }
  int add(const std::string& p, MInode n) {
    int id = next++;
    n.nlink = 1;
    inodes[id] = std::move(n);
    entries[p] = id;
    return id;
  }
  void drop(const std::string& p) {
    int id = entries.at(p);
    entries.erase(p);
    if (--inodes[id].nlink == 0 || inodes[id].dir) inodes.erase(id);
  }
  std::vector<std::string> dirs() const {
    std::vector<std::string> out{""};
    for (const auto& [p, id] : entries)
      if (inodes.at(id).dir) out.push_back(p);
    return out;
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& [p, id] : entries)
      if (!inodes.at(id).dir) out.push_back(p);
    return out;
  }
  bool has_object(const std::string& p) const { return is_file(p) || (is_dir(p) && !p.empty() && at(p).object); }
  // Every S3 key: the files and the directories' objects.
  std::vector<std::string> objects() const {
    std::vector<std::string> out;
    for (const auto& [p, id] : entries)
      if (!inodes.at(id).dir || inodes.at(id).object) out.push_back(p);
    return out;
  }
  const MInode& at(const std::string& p) const { return inodes.at(entries.at(p)); }
  MInode& at(const std::string& p) { return inodes.at(entries.at(p)); }
  // The directory `p`'s object goes; it goes too if it is implicit and empty,
  // and so on up (the S3 delete's pruning).
  void drop_object(const std::string& p) {
    at(p).object = false;
    at(p).data.clear();
    prune(p);
  }
  void prune(std::string p) {
    for (; !p.empty(); p = parent_of(p)) {
      const MInode& n = at(p);
      if (!n.implicit || n.object || !children(p).empty()) break;
      drop(p);
    }
  }
};

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

class ModelTest : public GatewayTest {
 protected:
  GatewayOptions options() override {
    GatewayOptions o = GatewayTest::options();
    o.durability = Durability::kNone;  // the model checks state, not durability
    o.file_chunk_bytes = 16 << 10;     // many chunks per file write
    o.object_chunking.min_size = 4 << 10;
    o.object_chunking.avg_size = 8 << 10;
    o.object_chunking.max_size = 16 << 10;
    return o;
  }

  // The real inode of a model path, looked up from the root.
  InodeId ino_of(const std::string& p) {
    InodeId cur = ns::kRootInode;
    size_t start = 0;
    while (start < p.size()) {
      size_t slash = p.find('/', start);
      if (slash == std::string::npos) slash = p.size();
      auto a = gw_->lookup(ns_, cur, p.substr(start, slash - start));
      EXPECT_TRUE(a.is_ok()) << p << ": " << a.status().to_string();
      if (!a) return kInvalidInode;
      cur = a->ino;
      start = slash + 1;
    }
    return cur;
  }

  // Bodies from a small pool of pieces, so chunks are shared between files.
  std::string body(std::mt19937_64& rng, size_t n) {
    std::string out;
    while (out.size() < n) {
      size_t piece = 4096 << (rng() % 3);
      out += kiseki::testing::random_bytes(piece, rng() % 6);
    }
    out.resize(n);
    return out;
  }

  // The file that holds a key's object: the file, or a directory's entry.
  static std::string file_path(const Model& m, const std::string& key) {
    return m.is_dir(key) ? key + "/.kiseki-object" : key;
  }
  // A put of `key` (parents made): every link of a file sees it; a directory carries it.
  static void put_model(Model& m, const std::string& key, const std::string& data) {
    if (m.is_dir(key)) {
      m.at(key).object = true;
      m.at(key).data = data;
    } else if (m.entries.count(key)) {
      m.at(key).data = data;
    } else {
      m.add(key, MInode{false, false, data, 1});
    }
  }

  void step(std::mt19937_64& rng, Model& m);
  void check(const Model& m);
};

const char* kNames[] = {"a", "b", "c", "d", "e"};

void ModelTest::step(std::mt19937_64& rng, Model& m) {
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  auto dirs = m.dirs();
  std::string dir = pick(dirs);
  std::string name = kNames[rng() % 5];
  std::string path = join(dir, name);
  InodeId parent = ino_of(dir);
  switch (rng() % 14) {
    case 0: {  // mkdir
      auto r = gw_->mkdir(ns_, parent, name, 0755, {});
      if (m.entries.count(path)) {
        EXPECT_EQ(r.code(), ErrorCode::kExists) << "mkdir " << path;
      } else {
        ASSERT_TRUE(r.is_ok()) << "mkdir " << path << ": " << r.status().to_string();
        m.add(path, MInode{true, false, "", 1});
      }
      break;
    }
    case 1: {  // exclusive create
      auto r = gw_->create(ns_, parent, name, 0644, {}, true);
      if (m.entries.count(path)) {
        EXPECT_EQ(r.code(), ErrorCode::kExists) << "create " << path;
      } else {
        ASSERT_TRUE(r.is_ok()) << "create " << path << ": " << r.status().to_string();
        m.add(path, MInode{});
      }
      break;
    }
    case 2:
    case 3: {  // write at an offset
      auto files = m.objects();
      if (files.empty()) break;
      std::string f = pick(files);
      uint64_t off = rng() % 2 ? rng() % 70000 : 0;
      std::string data = body(rng, 1 + rng() % 60000);
      auto r = gw_->write(ns_, ino_of(file_path(m, f)), off, as_bytes(data));
      ASSERT_TRUE(r.is_ok()) << "write " << f << ": " << r.status().to_string();
      auto& d = m.inodes[m.entries[f]].data;
      if (d.size() < off + data.size()) d.resize(off + data.size(), '\0');
      d.replace(off, data.size(), data);
      break;
    }
    case 4: {  // truncate
      auto files = m.objects();
      if (files.empty()) break;
      std::string f = pick(files);
      uint64_t size = rng() % 50000;
      SetAttrRequest req;
      req.size = size;
      auto r = gw_->setattr(ns_, ino_of(file_path(m, f)), req);
      ASSERT_TRUE(r.is_ok()) << "truncate " << f << ": " << r.status().to_string();
      m.inodes[m.entries[f]].data.resize(size, '\0');
      break;
    }
    case 5: {  // rename, over files and directories
      if (m.entries.empty()) break;
      std::vector<std::string> all;
      for (const auto& [p, id] : m.entries) all.push_back(p);
      std::string src = pick(all);
      bool src_dir = m.is_dir(src);
      Status st = gw_->rename(ns_, ino_of(Model::parent_of(src)), Model::leaf_of(src), parent, name);
      ErrorCode want = ErrorCode::kOk;
      if (src_dir && (dir == src || dir.starts_with(src + "/"))) want = ErrorCode::kInvalidArgument;
      bool same = m.entries.count(path) && m.entries.at(path) == m.entries.at(src);
      if (want != ErrorCode::kOk) {
      } else if (m.entries.count(path) && !same) {
        bool dst_dir = m.is_dir(path);
        if (src_dir && !dst_dir) want = ErrorCode::kNotDirectory;
        else if (!src_dir && dst_dir) want = ErrorCode::kIsDirectory;
        else if (dst_dir && (!m.children(path).empty() || m.at(path).object)) want = ErrorCode::kNotEmpty;
      }
      ASSERT_EQ(st.code(), want) << "rename " << src << " -> " << path << ": " << st.to_string();
      if (want != ErrorCode::kOk || same) break;
      if (m.entries.count(path)) m.drop(path);
      int id = m.entries[src];
      std::map<std::string, int> moved;
      for (auto it = m.entries.begin(); it != m.entries.end();) {
        if (it->first == src || it->first.starts_with(src + "/")) {
          moved[path + it->first.substr(src.size())] = it->second;
          it = m.entries.erase(it);
        } else {
          ++it;
        }
      }
      m.entries.insert(moved.begin(), moved.end());
      m.inodes[id].implicit = false;  // renamed by a user: a directory of its own
      break;
    }
    case 6: {  // hard link
      auto files = m.files();
      if (files.empty()) break;
      std::string f = pick(files);
      auto r = gw_->link(ns_, ino_of(f), parent, name);
      if (m.entries.count(path)) {
        EXPECT_EQ(r.code(), ErrorCode::kExists) << "link " << path;
      } else {
        ASSERT_TRUE(r.is_ok()) << "link " << f << " " << path << ": " << r.status().to_string();
        int id = m.entries[f];
        m.entries[path] = id;
        ++m.inodes[id].nlink;
      }
      break;
    }
    case 7: {  // unlink
      if (m.is_dir(path) && m.at(path).object && rng() % 2) {  // a directory's object, by its entry
        ASSERT_TRUE(gw_->unlink(ns_, ino_of(path), ".kiseki-object").is_ok()) << "unlink object of " << path;
        m.drop_object(path);
        break;
      }
      Status st = gw_->unlink(ns_, parent, name);
      ErrorCode want = !m.entries.count(path) ? ErrorCode::kNotFound
                       : m.is_dir(path)       ? ErrorCode::kIsDirectory
                                              : ErrorCode::kOk;
      ASSERT_EQ(st.code(), want) << "unlink " << path << ": " << st.to_string();
      if (st.is_ok()) m.drop(path);
      break;
    }
    case 8: {  // rmdir
      Status st = gw_->rmdir(ns_, parent, name);
      ErrorCode want = !m.entries.count(path)       ? ErrorCode::kNotFound
                       : !m.is_dir(path)            ? ErrorCode::kNotDirectory
                       : !m.children(path).empty() || m.at(path).object ? ErrorCode::kNotEmpty
                                                    : ErrorCode::kOk;
      ASSERT_EQ(st.code(), want) << "rmdir " << path << ": " << st.to_string();
      if (st.is_ok()) m.drop(path);
      break;
    }
    case 9:
    case 10: {  // put object (implicit directories for the prefix)
      std::string key = path;
      if (rng() % 2) key = join(key, kNames[rng() % 5]);
      std::string data = body(rng, rng() % 3 ? rng() % 5000 : rng() % 90000);
      auto r = gw_->put_object(ns_, key, source_from(as_bytes(data)), {});
      ErrorCode want = ErrorCode::kOk;
      // A file prefix becomes a directory carrying it, unless it has other links.
      for (std::string p = Model::parent_of(key); !p.empty(); p = Model::parent_of(p))
        if (m.is_file(p) && m.at(p).nlink > 1) want = ErrorCode::kNotDirectory;
      ASSERT_EQ(r.code(), want) << "put " << key << ": " << r.status().to_string();
      if (want != ErrorCode::kOk) break;
      std::vector<std::string> missing;
      for (std::string p = Model::parent_of(key); !p.empty(); p = Model::parent_of(p)) {
        if (!m.entries.count(p)) {
          missing.push_back(p);
        } else if (m.is_file(p)) {
          MInode& n = m.at(p);
          n.dir = n.implicit = n.object = true;
        }
      }
      for (auto it = missing.rbegin(); it != missing.rend(); ++it) m.add(*it, MInode{true, true, "", 1});
      put_model(m, key, data);
      break;
    }
    case 11: {  // delete object; empty implicit prefixes go with it
      auto files = m.objects();
      std::string key = files.empty() || rng() % 4 == 0 ? path : pick(files);
      Status st = gw_->delete_object(ns_, key);
      ASSERT_EQ(st.code(), m.has_object(key) ? ErrorCode::kOk : ErrorCode::kNotFound)
          << "delete " << key << ": " << st.to_string();
      if (!st.is_ok()) break;
      if (m.is_dir(key)) {
        m.drop_object(key);
      } else {
        m.drop(key);
        m.prune(Model::parent_of(key));
      }
      break;
    }
    case 12: {  // copy object
      auto files = m.objects();
      if (files.empty()) break;
      std::string src = pick(files);
      auto r = gw_->copy_object(ns_, src, ns_, path, std::nullopt);
      ASSERT_TRUE(r.is_ok()) << "copy " << src << " -> " << path << ": " << r.status().to_string();
      put_model(m, path, m.at(src).data);
      break;
    }
    case 13: {  // multipart: one small part completed, or parts aborted
      std::string data = body(rng, 1 + rng() % 40000);
      auto up = gw_->create_upload(ns_, path, {});
      ASSERT_TRUE(up.is_ok()) << up.status().to_string();
      auto part = gw_->upload_part(ns_, *up, 1, source_from(as_bytes(data)));
      ASSERT_TRUE(part.is_ok()) << part.status().to_string();
      if (rng() % 3 == 0) {
        ASSERT_TRUE(gw_->abort_upload(ns_, *up).is_ok());
        break;
      }
      if (rng() % 3 == 0) break;  // left in progress: its part holds references
      auto r = gw_->complete_upload(ns_, *up, {{1, part->etag}});
      ASSERT_TRUE(r.is_ok()) << "complete " << path << ": " << r.status().to_string();
      put_model(m, path, data);
      break;
    }
  }
}

void ModelTest::check(const Model& m) {
  // Every directory lists exactly the model's children, with the right types.
  for (const auto& d : m.dirs()) {
    InodeId dino = ino_of(d);
    auto list = gw_->readdir(ns_, dino, 0, 1000);
    ASSERT_TRUE(list.is_ok()) << d << ": " << list.status().to_string();
    std::set<std::string> got, want;
    for (const auto& e : *list) got.insert(join(d, e.name));
    if (!d.empty() && m.at(d).object) want.insert(join(d, ".kiseki-object"));
    int subdirs = 0;
    for (const auto& c : m.children(d)) {
      want.insert(c);
      subdirs += m.is_dir(c);
    }
    ASSERT_EQ(got, want) << "listing of '" << d << "'";
    auto a = gw_->getattr(ns_, dino);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->nlink, 2u + subdirs) << "nlink of directory '" << d << "'";
  }
  // Directories' objects, through S3 and the file API.
  for (const auto& d : m.dirs()) {
    if (d.empty() || !m.at(d).object) continue;
    auto got = gw_->get_object(ns_, d, {}, nullptr);
    ASSERT_TRUE(got.is_ok()) << d << ": " << got.status().to_string();
    ASSERT_TRUE(as_string_view(*got) == m.at(d).data) << "object of " << d;
    ASSERT_TRUE(read_file(ino_of(d + "/.kiseki-object")) == m.at(d).data) << "object entry of " << d;
  }
  // Files: contents, sizes and link counts.
  for (const auto& f : m.files()) {
    const MInode& n = m.inodes.at(m.entries.at(f));
    InodeId ino = ino_of(f);
    auto a = gw_->getattr(ns_, ino);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->nlink, static_cast<uint32_t>(n.nlink)) << "nlink of " << f;
    ASSERT_EQ(a->size, n.data.size()) << "size of " << f;
    ASSERT_EQ(read_file(ino), n.data) << "content of " << f;
  }
  // The S3 view lists every file as a key.
  ListRequest lr;
  lr.max_keys = 100000;
  auto objs = gw_->list_objects(ns_, lr);
  ASSERT_TRUE(objs.is_ok());
  std::set<std::string> keys, files;
  for (const auto& o : objs->objects)
    if (!o.key.ends_with("/")) keys.insert(o.key);
  for (const auto& f : m.objects()) files.insert(f);
  EXPECT_EQ(keys, files);
  // References: counted from layouts = replicated counts; nothing unreferenced left.
  auto refs = gw_->check_references();
  ASSERT_TRUE(refs.is_ok()) << refs.status().to_string();
  for (const auto& p : refs->problems) ADD_FAILURE() << p;
  EXPECT_EQ(refs->chunks, refs->located);
}

TEST_F(ModelTest, RandomOperationsMatchTheModel) {
  std::vector<uint64_t> seeds = {1, 2, 3};
  if (const char* s = std::getenv("KISEKI_MODEL_SEED")) seeds = {std::strtoull(s, nullptr, 10)};
  int ops = 1500;
  for (uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: KISEKI_MODEL_SEED=" + std::to_string(seed) + ")");
    auto ns = gw_->create_namespace(tenant_, "model" + std::to_string(seed));
    ASSERT_TRUE(ns.is_ok());
    ns_ = *ns;
    std::mt19937_64 rng(seed);
    Model m;
    for (int i = 0; i < ops; ++i) {
      ASSERT_NO_FATAL_FAILURE(step(rng, m)) << "operation " << i;
      if (i % 100 == 99) {
        ASSERT_NO_FATAL_FAILURE(check(m)) << "after operation " << i;
      }
      if (HasFailure()) return;
    }
    ASSERT_NO_FATAL_FAILURE(check(m));
    auto refs = gw_->check_references();
    std::printf("seed %llu: %zu files, %zu directories (%zu with objects), %llu chunks, %llu layout references\n",
                static_cast<unsigned long long>(seed), m.files().size(), m.dirs().size(),
                m.objects().size() - m.files().size(),
                static_cast<unsigned long long>(refs->chunks), static_cast<unsigned long long>(refs->chunk_refs));
    reopen();  // the same state after a restart
    ASSERT_NO_FATAL_FAILURE(check(m));
  }
}

}  // namespace
}  // namespace kiseki::gateway
