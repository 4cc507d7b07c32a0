// A file's content description, sealed with the tenant key inside the inode
// record: inline bytes or an extent layout, plus object metadata and symlink
// target. Without the tenant key it cannot be turned back into chunk ids.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::gateway {

struct Extent {
  uint64_t file_offset = 0;
  uint32_t length = 0;
  ChunkId chunk;
  uint32_t chunk_offset = 0;
  uint64_t end() const { return file_offset + length; }
};

struct Content {
  std::string inline_data;
  std::vector<Extent> extents;  // sorted by file_offset, not overlapping
  std::string symlink_target;
  std::string etag;             // S3 ETag without quotes
  std::string content_type;
  std::map<std::string, std::string> headers;    // Content-Disposition, Cache-Control …
  std::map<std::string, std::string> user_meta;  // x-amz-meta-*
  // The sizes of a multipart upload's parts, in order (GET ?partNumber=N);
  // empty for other objects and once a file write changes the bytes.
  std::vector<uint64_t> part_sizes;
  // The S3 version id of this content (ADR 0012); empty: the "null" version.
  std::string version_id;
};

std::string encode_content(const Content& c);
// Pieces of the content codec that other records (multipart) reuse.
void encode_extents(Encoder& e, const std::vector<Extent>& extents);
bool decode_extents(Decoder& d, std::vector<Extent>* extents);
void encode_string_map(Encoder& e, const std::map<std::string, std::string>& m);
bool decode_string_map(Decoder& d, std::map<std::string, std::string>* m);
Status decode_content(std::string_view v, Content* c);

Status seal_content(const crypto::SecretKey& kek, NamespaceId ns, const Content& c, std::string* out);
Status open_content(const crypto::SecretKey& kek, NamespaceId ns, std::string_view sealed, Content* c);

// Replaces the bytes [off, off + len) of `extents` by `incoming` (which covers
// exactly that range; gaps in it are holes).
void splice_extents(std::vector<Extent>* extents, uint64_t off, uint64_t len,
                    const std::vector<Extent>& incoming);
// Drops everything at or beyond `size`.
void truncate_extents(std::vector<Extent>* extents, uint64_t size);

// Chunk reference changes between two layouts: one reference per extent.
void diff_refs(const std::vector<Extent>& before, const std::vector<Extent>& after,
               std::map<ChunkId, int>* delta);

}  // namespace kiseki::gateway
