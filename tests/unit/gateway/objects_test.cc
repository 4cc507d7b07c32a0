#include <map>
#include <random>

#include "chunk/chunker.h"
#include "common/metrics.h"
#include "fixture.h"
#include "gateway/object_util.h"

namespace kiseki::gateway {

TEST_F(GatewayTest, PutGetHeadDeleteObjects) {
  std::string small = "tiny object";
  std::string big = kiseki::testing::random_bytes(1 << 20, 5);
  ObjectMeta meta;
  meta.content_type = "text/plain";
  meta.user_meta["color"] = "blue";
  meta.headers["Cache-Control"] = "max-age=60";
  auto info = gw_->put_object(ns_, "dir/sub/small.txt", source_from(as_bytes(small)), meta);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->etag, "3589a0a97b096769228506ab2587811c");  // printf "tiny object" | md5sum
  put("dir/big.bin", big);
  EXPECT_EQ(get("dir/sub/small.txt"), small);
  EXPECT_EQ(get("dir/big.bin"), big);
  auto head = gw_->head_object(ns_, "dir/sub/small.txt");
  ASSERT_TRUE(head.is_ok());
  EXPECT_EQ(head->size, small.size());
  EXPECT_EQ(head->meta.content_type, "text/plain");
  EXPECT_EQ(head->meta.user_meta["color"], "blue");
  EXPECT_EQ(head->meta.headers["Cache-Control"], "max-age=60");
  // Ranges.
  auto r = gw_->get_object(ns_, "dir/big.bin", {1000, 5000}, nullptr);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(as_string_view(*r), big.substr(1000, 5000));
  auto tail = gw_->get_object(ns_, "dir/big.bin", {(1 << 20) - 10, std::nullopt}, nullptr);
  EXPECT_EQ(as_string_view(*tail), big.substr((1 << 20) - 10));
  EXPECT_EQ(gw_->get_object(ns_, "dir/big.bin", {1 << 20, 1}, nullptr).code(), ErrorCode::kInvalidArgument);
  // Objects are files: the same namespace through the file API.
  auto d = gw_->lookup(ns_, ns::kRootInode, "dir");
  ASSERT_TRUE(d.is_ok());
  auto f = gw_->lookup(ns_, d->ino, "big.bin");
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(read_file(f->ino), big);
  // Delete prunes the implicit directories that held only this key.
  ASSERT_TRUE(gw_->delete_object(ns_, "dir/sub/small.txt").is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "dir/sub/small.txt").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->lookup(ns_, d->ino, "sub").code(), ErrorCode::kNotFound);
  EXPECT_TRUE(gw_->lookup(ns_, ns::kRootInode, "dir").is_ok());
  EXPECT_EQ(gw_->delete_object(ns_, "dir/sub/small.txt").code(), ErrorCode::kNotFound);
}

// Once every object is gone: no chunk reference and no chunk left.
void expect_no_chunks_left(LocalGateway& gw, const char* why) {
  ASSERT_TRUE(gw.chunks_for_test()->flush_local().is_ok());
  for (auto cf : {meta::Cf::kChunkRefs, meta::Cf::kChunkLocs}) {
    auto it = gw.store_for_test()->iterator(cf);
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid()) << why;
  }
}

TEST_F(GatewayTest, OverwriteReleasesOldChunks) {
  put("obj", kiseki::testing::random_bytes(2 << 20, 1));
  put("obj", kiseki::testing::random_bytes(2 << 20, 2));
  EXPECT_EQ(get("obj"), kiseki::testing::random_bytes(2 << 20, 2));
  ASSERT_TRUE(gw_->delete_object(ns_, "obj").is_ok());
  expect_no_chunks_left(*gw_, "every chunk reference and every unreferenced chunk must be gone");
}

// The local log applies each submit once: only a caller's own request id (an
// NFS call's) is remembered, for the caller's retries; S3 and the admin calls
// leave the request table alone.
TEST_F(GatewayTest, RequestTableKeepsOnlyCallersIds) {
  auto requests = [&] {
    size_t n = 0;
    auto it = gw_->store_for_test()->iterator(meta::Cf::kRequests);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  };
  put("obj", kiseki::testing::random_bytes(100 << 10, 3));
  ASSERT_TRUE(gw_->mkdir(ns_, ns::kRootInode, "d", 0755, Caller{}).is_ok());
  EXPECT_EQ(requests(), 0u);
  Caller who;
  who.req = {99, 1};
  auto first = gw_->create(ns_, ns::kRootInode, "f", 0644, who, true);
  ASSERT_TRUE(first.is_ok());
  EXPECT_GT(requests(), 0u);
  // A retry of the exclusive create answers the first result, not kExists.
  auto again = gw_->create(ns_, ns::kRootInode, "f", 0644, who, true);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->ino, first->ino);
}

// Opened objects are kept for reads (gateway/object_cache.h) only until the
// next write: every change to a key is seen by the open after it.
TEST_F(GatewayTest, OpenedObjectsLastUntilTheNextWrite) {
  auto& m = MetricsRegistry::global();
  auto hits = [&] { return m.counter_total("kiseki_gateway_object_cache_hits_total"); };
  std::string v1 = kiseki::testing::random_bytes(200 << 10, 41);
  put("dir/k", v1);
  auto first = gw_->open_object(ns_, "dir/k");
  ASSERT_TRUE(first.is_ok());
  uint64_t h0 = hits();
  auto again = gw_->open_object(ns_, "dir/k");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(hits(), h0 + 1) << "a second open with no write between is answered from the cache";
  EXPECT_EQ(again->info.etag, first->info.etag);
  EXPECT_EQ(get("dir/k"), v1);

  // An overwrite by key.
  std::string v2 = kiseki::testing::random_bytes(100 << 10, 42);
  ObjectInfo w2 = put("dir/k", v2);
  auto h = gw_->open_object(ns_, "dir/k");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->info.etag, w2.etag);
  EXPECT_EQ(h->info.size, v2.size());
  EXPECT_EQ(get("dir/k"), v2);

  // A write through the file API to the same object.
  auto d = gw_->lookup(ns_, ns::kRootInode, "dir");
  ASSERT_TRUE(d.is_ok());
  auto f = gw_->lookup(ns_, d->ino, "k");
  ASSERT_TRUE(f.is_ok());
  ASSERT_TRUE(gw_->write(ns_, f->ino, v2.size(), as_bytes(std::string("tail"))).is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "dir/k")->size, v2.size() + 4);
  EXPECT_EQ(get("dir/k"), v2 + "tail");

  // A write to another key stales every entry too (the check is one counter).
  ASSERT_TRUE(gw_->open_object(ns_, "dir/k").is_ok());
  put("other", "x");
  h0 = hits();
  ASSERT_TRUE(gw_->open_object(ns_, "dir/k").is_ok());
  EXPECT_EQ(hits(), h0);

  // A rename through the file API, then a delete.
  ASSERT_TRUE(gw_->rename(ns_, d->ino, "k", d->ino, "k2").is_ok());
  EXPECT_EQ(gw_->open_object(ns_, "dir/k").code(), ErrorCode::kNotFound);
  EXPECT_EQ(get("dir/k2"), v2 + "tail");
  ASSERT_TRUE(gw_->delete_object(ns_, "dir/k2").is_ok());
  EXPECT_EQ(gw_->open_object(ns_, "dir/k2").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->head_object(ns_, "dir/k2").code(), ErrorCode::kNotFound);

  // A layout longer than the cache keeps is read from the store at every open.
  put("big", kiseki::testing::random_bytes(20 << 20, 43));  // at least 80 chunks of at most 256 KiB
  auto big = gw_->open_object(ns_, "big");
  ASSERT_TRUE(big.is_ok());
  ASSERT_GT(big->content->extents.size(), ObjectCache::kMaxExtents);
  h0 = hits();
  ASSERT_TRUE(gw_->open_object(ns_, "big").is_ok());
  EXPECT_EQ(hits(), h0);
}

// A chunk that a committed record references is not looked up again when its
// writer lets go of it; one whose reference went meanwhile still is, and goes.
TEST_F(GatewayTest, CommittedChunksSkipTheLookupWhenTheirPinGoes) {
  Counter* ref_reads = MetricsRegistry::global().counter(
      "kiseki_meta_reads_total", "", {{"cf", "chunk_refs"}, {"by", "request"}});
  uint64_t before = ref_reads->value();
  std::string data = kiseki::testing::random_bytes(10 << 10, 51);  // one chunk, not inline
  put("a", data);
  EXPECT_EQ(ref_reads->value(), before) << "a PUT's own chunk was looked up again";

  // A writer holds the chunk pinned while a record referencing it commits;
  // then the object that holds it is deleted, and then the writer lets go.
  auto h = gw_->open_object(ns_, "a");
  ASSERT_TRUE(h.is_ok());
  ASSERT_EQ(h->content->extents.size(), 1u);
  ChunkId id = h->content->extents[0].chunk;
  auto domain = gw_->keys_of_domain(domain_of(id));
  ASSERT_TRUE(domain.is_ok());
  auto* chunks = gw_->chunks_for_test();
  auto pinned = chunks->prepare(*domain, id, as_bytes(data));
  ASSERT_TRUE(pinned.is_ok());
  chunks->referenced({id});
  ASSERT_TRUE(gw_->delete_object(ns_, "a").is_ok());  // its release passes the pinned chunk over
  pinned->pin.reset();
  ASSERT_TRUE(chunks->flush_local().is_ok());
  EXPECT_EQ(chunks->locate(id).code(), ErrorCode::kNotFound) << "the unreferenced chunk was kept";
}

// ADR 0013 (dir_object_test.cc has the rest): both keys are kept.
TEST_F(GatewayTest, KeyThatIsBothFileAndPrefixKeepsBoth) {
  put("a/b", "file");
  put("a/b/c", "x");
  put("x/y/z", "deep");
  put("x/y", "x");
  EXPECT_EQ(get("a/b"), "file");
  EXPECT_EQ(get("a/b/c"), "x");
  EXPECT_EQ(get("x/y/z"), "deep");
  EXPECT_EQ(get("x/y"), "x");
}

TEST_F(GatewayTest, ConditionalPut) {
  PutConditions none_match;
  none_match.if_none_match_star = true;
  ASSERT_TRUE(gw_->put_object(ns_, "k", source_from(as_bytes("v1")), {}, none_match).is_ok());
  EXPECT_EQ(gw_->put_object(ns_, "k", source_from(as_bytes("v2")), {}, none_match).code(),
            ErrorCode::kPreconditionFailed);
  PutConditions match;
  match.if_match = "wrong";
  EXPECT_EQ(gw_->put_object(ns_, "k", source_from(as_bytes("v2")), {}, match).code(),
            ErrorCode::kPreconditionFailed);
  match.if_match = gw_->head_object(ns_, "k")->etag;
  ASSERT_TRUE(gw_->put_object(ns_, "k", source_from(as_bytes("v3")), {}, match).is_ok());
  EXPECT_EQ(get("k"), "v3");
}

// A PUT's ETag MD5 is finished when the log takes its record (after the
// chunks' sync): the ETag is the body's MD5 at every size, from inline to
// several buffer fills, and Content-MD5 is checked against it. A mismatch
// leaves the key as it was and no reference behind; its chunks go.
TEST_F(GatewayTest, EtagAndContentMd5CheckedWhenTheRecordIsMade) {
  for (size_t n : {size_t{0}, size_t{100}, size_t{65536}, size_t{3 << 20} + 17}) {
    std::string body = kiseki::testing::random_bytes(n, n + 1);
    auto md5 = crypto::md5(as_bytes(body));
    PutConditions right;
    right.content_md5 = md5;
    auto info = gw_->put_object(ns_, "sized", source_from(as_bytes(body)), {}, right);
    ASSERT_TRUE(info.is_ok()) << n << ": " << info.status().to_string();
    EXPECT_EQ(info->etag, md5_hex(md5)) << n;
    EXPECT_EQ(gw_->head_object(ns_, "sized")->etag, md5_hex(md5)) << n;
    EXPECT_EQ(get("sized"), body);
  }
  std::string kept = kiseki::testing::random_bytes(65536, 1);
  put("k", kept);
  PutConditions wrong;
  wrong.content_md5 = crypto::md5(as_bytes(std::string("something else")));
  auto bad = gw_->put_object(ns_, "k", source_from(as_bytes(kiseki::testing::random_bytes(200000, 2))), {}, wrong);
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("BadDigest"), std::string::npos);
  EXPECT_EQ(get("k"), kept);
  EXPECT_EQ(gw_->put_object(ns_, "new", source_from(as_bytes(kept)), {}, wrong).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->head_object(ns_, "new").code(), ErrorCode::kNotFound);
  auto refs = gw_->check_references();
  ASSERT_TRUE(refs.is_ok()) << refs.status().to_string();
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  // Only the chunks of "sized" and "k" remain once the rejected bodies' go.
  ASSERT_TRUE(gw_->delete_object(ns_, "sized").is_ok());
  ASSERT_TRUE(gw_->delete_object(ns_, "k").is_ok());
  expect_no_chunks_left(*gw_, "a rejected body's chunks stayed");
}

// A whole body no longer than the average chunk is stored as one chunk; a
// longer one is cut where the content says (ADR 0014).
TEST_F(GatewayTest, BodiesUpToTheAverageChunkAreOneChunk) {
  const chunk::ChunkerParams params = options().object_chunking;
  auto chunker = chunk::make_chunker(params);
  int cut_somewhere = 0;
  for (int seed = 0; seed < 24; ++seed) {
    for (size_t n : {size_t{params.avg_size}, size_t{params.avg_size} + 1, size_t{3} * params.avg_size}) {
      std::string data = kiseki::testing::random_bytes(n, 1000 + seed);
      put("b", data);
      auto h = gw_->open_object(ns_, "b");
      ASSERT_TRUE(h.is_ok());
      std::vector<size_t> lengths;
      for (const auto& x : h->content->extents) lengths.push_back(x.length);
      if (n <= params.avg_size) {
        EXPECT_EQ(lengths, std::vector<size_t>{n}) << "seed " << seed;
        continue;
      }
      std::vector<size_t> want;
      chunker->split(as_bytes(data), &want);
      EXPECT_EQ(lengths, want) << "seed " << seed << ", " << n << " bytes";
      if (n == size_t{params.avg_size} + 1 && want.size() > 1) ++cut_somewhere;
      EXPECT_EQ(get("b"), data);
    }
  }
  // The content decides for a body just past the average: some are cut.
  EXPECT_GT(cut_somewhere, 0);
}

TEST_F(GatewayTest, CopyObjectSharesChunks) {
  std::string data = kiseki::testing::random_bytes(3 << 20, 8);
  ObjectMeta meta;
  meta.user_meta["a"] = "1";
  ASSERT_TRUE(gw_->put_object(ns_, "src", source_from(as_bytes(data)), meta).is_ok());
  uint64_t before = segment_bytes();
  auto c = gw_->copy_object(ns_, "src", ns_, "dst", std::nullopt);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(segment_bytes(), before) << "a copy writes no chunk bytes";
  EXPECT_EQ(get("dst"), data);
  EXPECT_EQ(gw_->head_object(ns_, "dst")->meta.user_meta["a"], "1");
  ObjectMeta replaced;
  replaced.user_meta["b"] = "2";
  ASSERT_TRUE(gw_->copy_object(ns_, "src", ns_, "dst2", replaced).is_ok());
  auto h = *gw_->head_object(ns_, "dst2");
  EXPECT_EQ(h.meta.user_meta.count("a"), 0u);
  EXPECT_EQ(h.meta.user_meta["b"], "2");
  ASSERT_TRUE(gw_->delete_object(ns_, "src").is_ok());
  EXPECT_EQ(get("dst"), data);
}

// The bar: writing the same 64 MiB twice grows the segments by < 1 %.
TEST_F(GatewayTest, DedupSameDataTwice) {
  std::string data = kiseki::testing::random_bytes(64 << 20, 64);
  put("first", data);
  uint64_t after_first = segment_bytes();
  EXPECT_GE(after_first, data.size());
  put("second", data);
  uint64_t growth = segment_bytes() - after_first;
  EXPECT_LT(static_cast<double>(growth), 0.01 * after_first) << growth;
  EXPECT_EQ(get("second"), data);
}

// Differential test: listings against a sorted std::map of the same keys.
TEST_F(GatewayTest, ListMatchesSortedMapModel) {
  std::map<std::string, size_t> model;
  std::vector<std::string> keys = {"a", "a-b", "a.x", "a/b", "a/b/c", "a/b-c", "a/c", "a0", "b/x/y/z",
                                   "b/x-y", "b/x0", "c", "photos/2024/jan/1.jpg", "photos/2024/feb/2.jpg",
                                   "photos/2023/x.jpg", "photos/index.html", "z z", "\xc3\xa9t\xc3\xa9"};
  // "a" is a file, so "a/b" cannot be (a key both file and prefix): skip those.
  for (const auto& k : keys) {
    auto r = gw_->put_object(ns_, k, source_from(as_bytes(k)), {});
    if (r.is_ok()) {
      model[k] = k.size();
    } else {
      EXPECT_EQ(r.code(), ErrorCode::kNotDirectory) << k;
    }
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 150; ++i) {
    std::string k = "r/" + std::to_string(rng() % 7) + (rng() % 2 ? "/" : "-") + std::to_string(rng() % 50);
    if (gw_->put_object(ns_, k, source_from(as_bytes(k)), {}).is_ok()) model[k] = k.size();
  }
  auto check = [&](const std::string& prefix, const std::string& delim, uint32_t page) {
    // Expected: model keys filtered and rolled up by delimiter.
    std::vector<std::string> expect;
    std::string last_cp;
    for (const auto& [k, v] : model) {
      if (k.compare(0, prefix.size(), prefix) != 0) continue;
      if (!delim.empty()) {
        size_t d = k.find(delim, prefix.size());
        if (d != std::string::npos) {
          std::string cp = k.substr(0, d + delim.size());
          if (cp != last_cp) expect.push_back("P:" + cp);
          last_cp = cp;
          continue;
        }
      }
      expect.push_back("K:" + k);
    }
    std::vector<std::string> got;
    ListRequest req{prefix, delim, "", page};
    for (int guard = 0; guard < 1000; ++guard) {
      auto r = gw_->list_objects(ns_, req);
      ASSERT_TRUE(r.is_ok());
      // S3 returns keys and prefixes interleaved in order; merge the two lists.
      std::vector<std::string> pagegot;
      for (auto& o : r->objects) pagegot.push_back("K:" + o.key);
      for (auto& p : r->common_prefixes) pagegot.push_back("P:" + p);
      std::sort(pagegot.begin(), pagegot.end(), [](const std::string& a, const std::string& b) {
        return a.substr(2) < b.substr(2);
      });
      EXPECT_LE(pagegot.size(), page);
      got.insert(got.end(), pagegot.begin(), pagegot.end());
      if (!r->truncated) break;
      req.start_after = r->next_start_after;
    }
    EXPECT_EQ(got, expect) << "prefix=" << prefix << " delim=" << delim << " page=" << page;
  };
  for (std::string prefix : {"", "a", "a/", "b/x", "photos/", "photos/2024/", "r/3", "r/", "zz", "nothing"})
    for (std::string delim : {"", "/", "-"})
      for (uint32_t page : {1u, 3u, 1000u}) check(prefix, delim, page);
}

TEST_F(GatewayTest, MultipartUpload) {
  ObjectMeta meta;
  meta.content_type = "application/octet-stream";
  auto id = gw_->create_upload(ns_, "big/object", meta);
  ASSERT_TRUE(id.is_ok());
  std::string p1 = kiseki::testing::random_bytes(5 << 20, 1), p2 = kiseki::testing::random_bytes(5 << 20, 2),
              p3 = kiseki::testing::random_bytes(1000, 3);
  auto r1 = gw_->upload_part(ns_, *id, 1, source_from(as_bytes(p1)));
  auto r2 = gw_->upload_part(ns_, *id, 2, source_from(as_bytes(kiseki::testing::random_bytes(5 << 20, 9))));
  r2 = gw_->upload_part(ns_, *id, 2, source_from(as_bytes(p2)));  // replaced part
  auto r3 = gw_->upload_part(ns_, *id, 3, source_from(as_bytes(p3)));
  ASSERT_TRUE(r1.is_ok() && r2.is_ok() && r3.is_ok());
  auto parts = gw_->list_parts(ns_, *id);
  ASSERT_TRUE(parts.is_ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[1].etag, r2->etag);
  auto uploads = *gw_->list_uploads(ns_, "big/");
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].key, "big/object");
  // Survives a restart.
  reopen();
  EXPECT_EQ(gw_->list_parts(ns_, *id)->size(), 3u);
  EXPECT_EQ(gw_->complete_upload(ns_, *id, {{2, r2->etag}, {1, r1->etag}}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->complete_upload(ns_, *id, {{1, r1->etag}, {2, "bad"}}).code(), ErrorCode::kInvalidArgument);
  auto done = gw_->complete_upload(ns_, *id, {{1, r1->etag}, {2, r2->etag}, {3, r3->etag}});
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_EQ(done->etag.substr(done->etag.size() - 2), "-3");
  EXPECT_EQ(get("big/object"), p1 + p2 + p3);
  EXPECT_EQ(gw_->head_object(ns_, "big/object")->meta.content_type, "application/octet-stream");
  EXPECT_EQ(gw_->head_object(ns_, "big/object")->part_sizes,
            (std::vector<uint64_t>{p1.size(), p2.size(), p3.size()}));
  EXPECT_EQ(gw_->list_parts(ns_, *id).code(), ErrorCode::kNotFound);
  // The part sizes outlive a restart, and a file write drops them: the bytes
  // are no longer the upload's.
  reopen();
  EXPECT_EQ(gw_->head_object(ns_, "big/object")->part_sizes.size(), 3u);
  auto dir = gw_->lookup(ns_, ns::kRootInode, "big");
  ASSERT_TRUE(dir.is_ok());
  auto file = gw_->lookup(ns_, dir->ino, "object");
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE(gw_->write(ns_, file->ino, 10, as_bytes("patched")).is_ok());
  EXPECT_TRUE(gw_->head_object(ns_, "big/object")->part_sizes.empty());
  // Small non-final parts are refused; abort drops everything.
  auto id2 = *gw_->create_upload(ns_, "small", {});
  auto a = *gw_->upload_part(ns_, id2, 1, source_from(as_bytes("tiny")));
  auto b = *gw_->upload_part(ns_, id2, 2, source_from(as_bytes("tiny")));
  EXPECT_EQ(gw_->complete_upload(ns_, id2, {{1, a.etag}, {2, b.etag}}).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(gw_->abort_upload(ns_, id2).is_ok());
  EXPECT_EQ(gw_->upload_part(ns_, id2, 3, source_from(as_bytes("x"))).code(), ErrorCode::kNotFound);
  // Deleting the object leaves no chunk referenced.
  ASSERT_TRUE(gw_->delete_object(ns_, "big/object").is_ok());
  ASSERT_TRUE(gw_->chunks_for_test()->flush_local().is_ok());
  for (auto cf : {meta::Cf::kChunkRefs, meta::Cf::kChunkLocs}) {
    auto it = gw_->store_for_test()->iterator(cf);
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
  }
}

TEST_F(GatewayTest, CompactionReclaimsDeadSegments) {
  // 8 MiB segments: fill several, delete most objects, compact.
  for (int i = 0; i < 12; ++i) put("obj" + std::to_string(i), kiseki::testing::random_bytes(2 << 20, 500 + i));
  size_t segs_before = gw_->chunks_for_test()->segments()->segments().size();
  ASSERT_GE(segs_before, 3u);
  for (int i = 0; i < 12; ++i) {
    if (i % 4 == 0) continue;
    ASSERT_TRUE(gw_->delete_object(ns_, "obj" + std::to_string(i)).is_ok());
  }
  auto removed = gw_->compact(0.5);
  ASSERT_TRUE(removed.is_ok());
  EXPECT_GE(*removed, 1u);
  EXPECT_LT(gw_->chunks_for_test()->segments()->segments().size(), segs_before);
  for (int i = 0; i < 12; i += 4) EXPECT_EQ(get("obj" + std::to_string(i)), kiseki::testing::random_bytes(2 << 20, 500 + i));
  EXPECT_TRUE(gw_->scrub().problems.empty());
  reopen();
  for (int i = 0; i < 12; i += 4) EXPECT_EQ(get("obj" + std::to_string(i)), kiseki::testing::random_bytes(2 << 20, 500 + i));
}

}  // namespace kiseki::gateway

namespace kiseki::gateway {

// Folder markers: "a/b/" with no data is the explicit directory a/b, listed as a
// key; deleting the marker keeps the directory while keys remain below it.
TEST_F(GatewayTest, FolderMarkers) {
  auto f = gw_->put_object(ns_, "photos/2024/", source_from(as_bytes("")), {});
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->etag, kEmptyEtag);
  EXPECT_EQ(gw_->put_object(ns_, "bad/", source_from(as_bytes("data")), {}).code(), ErrorCode::kInvalidArgument);
  auto h = gw_->head_object(ns_, "photos/2024/");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->size, 0u);
  EXPECT_EQ(gw_->head_object(ns_, "photos/").code(), ErrorCode::kNotFound) << "an implicit prefix is no marker";
  auto keys = [&](const std::string& prefix, const std::string& delim) {
    std::vector<std::string> out;
    auto r = gw_->list_objects(ns_, {prefix, delim, "", 1000});
    EXPECT_TRUE(r.is_ok());
    for (auto& o : r->objects) out.push_back(o.key);
    for (auto& p : r->common_prefixes) out.push_back("P:" + p);
    return out;
  };
  EXPECT_EQ(keys("", ""), (std::vector<std::string>{"photos/2024/"}));
  put("photos/2024/a.jpg", "jpeg");
  EXPECT_EQ(keys("", ""), (std::vector<std::string>{"photos/2024/", "photos/2024/a.jpg"}));
  EXPECT_EQ(keys("photos/", "/"), (std::vector<std::string>{"P:photos/2024/"}));
  EXPECT_EQ(keys("photos/2024/", "/"), (std::vector<std::string>{"photos/2024/", "photos/2024/a.jpg"}));
  // The file API sees a directory; its mkdir makes a marker too.
  auto photos = *gw_->lookup(ns_, ns::kRootInode, "photos");
  ASSERT_TRUE(gw_->mkdir(ns_, photos.ino, "2025", 0755, {}).is_ok());  // S3 made it: root owns it
  EXPECT_TRUE(gw_->head_object(ns_, "photos/2025/").is_ok());
  // Deleting a marker with keys below keeps them; an empty folder goes entirely.
  ASSERT_TRUE(gw_->delete_object(ns_, "photos/2024/").is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "photos/2024/").code(), ErrorCode::kNotFound);
  EXPECT_EQ(get("photos/2024/a.jpg"), "jpeg");
  ASSERT_TRUE(gw_->delete_object(ns_, "photos/2025/").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, photos.ino, "2025").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(gw_->delete_object(ns_, "photos/2024/a.jpg").is_ok());
  EXPECT_EQ(keys("", ""), std::vector<std::string>{});
  EXPECT_EQ(gw_->lookup(ns_, ns::kRootInode, "photos").code(), ErrorCode::kNotFound) << "implicit parents pruned";
  put("file", "x");  // a folder marker beside an object of the same name: both stay (ADR 0013)
  ASSERT_TRUE(gw_->put_object(ns_, "file/", source_from(as_bytes("")), {}).is_ok());
  EXPECT_EQ(get("file"), "x");
}

}  // namespace kiseki::gateway

namespace kiseki::gateway {

// A delete that holds only for the object as the caller saw it (S3 If-Match,
// the lifecycle worker's "not written since it expired").
TEST_F(GatewayTest, ConditionalDelete) {
  ObjectInfo first = put("k", "one");
  DeleteConditions wrong_etag;
  wrong_etag.if_match = "0123";
  EXPECT_EQ(gw_->delete_object(ns_, "k", wrong_etag).code(), ErrorCode::kPreconditionFailed);
  DeleteConditions before;
  before.if_unmodified_since_ns = first.mtime_ns - 1;
  EXPECT_EQ(gw_->delete_object(ns_, "k", before).code(), ErrorCode::kPreconditionFailed);
  EXPECT_EQ(get("k"), "one");
  DeleteConditions seen;
  seen.if_match = first.etag;
  seen.if_unmodified_since_ns = first.mtime_ns;
  ASSERT_TRUE(gw_->delete_object(ns_, "k", seen).is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "k").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->delete_object(ns_, "k", seen).code(), ErrorCode::kNotFound);
}

// A GET sends opened chunks as they lie in the cache (read_object_pinned): the
// same bytes as a copying read for every range, pinned where the range is
// chunks end to end, copied where it is inline bytes or has a hole, read on
// from where a short piece ends; a shredded tenant's handle reads nothing.
TEST_F(GatewayTest, PinnedReadsMatchCopiesAndStopAtAShred) {
  put("big", kiseki::testing::random_bytes(3 << 20, 5));  // several chunks
  put("small", "inline bytes");
  auto f = gw_->create(ns_, ns::kRootInode, "holey", 0644, who_, true);
  ASSERT_TRUE(f.is_ok());
  std::string tail = kiseki::testing::random_bytes(300000, 6);
  ASSERT_TRUE(gw_->write(ns_, f->ino, 200000, as_bytes(tail), true, who_).is_ok());
  struct Case {
    const char* key;
    uint64_t pinned_from;  // ranges from here on are pinned (none: UINT64_MAX)
  };
  for (Case c : {Case{"big", 0}, Case{"small", UINT64_MAX}, Case{"holey", 200000}}) {
    auto h = gw_->open_object(ns_, c.key);
    ASSERT_TRUE(h.is_ok()) << c.key;
    uint64_t size = h->info.size;
    for (auto [off, len] : {std::pair<uint64_t, uint64_t>{0, size}, {1, size - 2}, {size / 3, size / 3}, {size - 1, 5}}) {
      Bytes want;
      ASSERT_TRUE(gw_->read_object(*h, off, len, &want).is_ok());
      std::string got;
      PinnedBytes piece;
      for (uint64_t at = off; got.size() < want.size();) {
        ASSERT_TRUE(gw_->read_object_pinned(*h, at, off + len - at, &piece).is_ok());
        ASSERT_GT(piece.size, 0u) << c.key << " at " << at;
        EXPECT_EQ(!piece.pins.empty(), off >= c.pinned_from) << c.key << " at " << at;
        uint64_t n = 0;
        for (ByteSpan sl : piece.slices) {
          got.append(reinterpret_cast<const char*>(sl.data()), sl.size());
          n += sl.size();
        }
        EXPECT_EQ(n, piece.size);
        at += piece.size;
        piece.release();
      }
      EXPECT_TRUE(got == as_string_view(want)) << c.key << " [" << off << ", +" << len << ")";
    }
    PinnedBytes past_end;
    ASSERT_TRUE(gw_->read_object_pinned(*h, size, 10, &past_end).is_ok());
    EXPECT_EQ(past_end.size, 0u);
  }
  // The file API's pinned read (NFS READ): the same bytes, pinned past the hole.
  for (uint64_t off : {0ul, 150000ul, 250000ul}) {
    PinnedBytes piece;
    ASSERT_TRUE(gw_->read_pinned(ns_, f->ino, off, 100000, who_, &piece).is_ok());
    std::string got;
    for (ByteSpan sl : piece.slices) got.append(reinterpret_cast<const char*>(sl.data()), sl.size());
    EXPECT_EQ(got, read_file(f->ino, off, 100000)) << off;
    EXPECT_EQ(!piece.pins.empty(), off >= 200000) << off;
  }
  SetAttrRequest private_mode;
  private_mode.mode = 0600;
  ASSERT_TRUE(gw_->setattr(ns_, f->ino, private_mode, who_).is_ok());
  PinnedBytes denied;
  EXPECT_EQ(gw_->read_pinned(ns_, f->ino, 0, 10, Caller{4242, 4242}, &denied).code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(denied.slices.empty());
  auto h = gw_->open_object(ns_, "big");
  ASSERT_TRUE(h.is_ok());
  ASSERT_TRUE(gw_->shred_tenant(tenant_).is_ok());
  PinnedBytes piece;
  EXPECT_FALSE(gw_->read_object_pinned(*h, 0, 100, &piece).is_ok());
  EXPECT_TRUE(piece.slices.empty());
}

}  // namespace kiseki::gateway
