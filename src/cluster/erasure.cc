#include "cluster/erasure.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <cstring>

#include "common/crc32c.h"

namespace kiseki::cluster {

namespace {
constexpr uint8_t kFragmentFormat = 1;

uint64_t mask_of(const std::vector<uint32_t>& v) {
  uint64_t m = 0;
  for (uint32_t i : v) m |= uint64_t{1} << i;
  return m;
}
}  // namespace

Result<FragmentHeader> parse_fragment(std::string_view record, std::string_view* bytes) {
  Decoder d(record);
  FragmentHeader h;
  uint8_t format = d.u8();
  h.k = d.u8();
  h.m = d.u8();
  h.index = d.u8();
  h.sealed_length = d.u32();
  h.crc = d.u32();
  if (!d.ok() || format != kFragmentFormat) return corruption("fragment record: bad header");
  if (h.k == 0 || h.k > kMaxDataFragments || h.m == 0 || h.m > kMaxParityFragments || h.index >= h.k + h.m)
    return corruption("fragment record: bad geometry");
  *bytes = record.substr(kFragmentHeaderSize);
  if (crc32c(bytes->data(), bytes->size()) != h.crc) return corruption("fragment record: CRC mismatch");
  uint64_t min = (uint64_t{h.sealed_length} + h.k - 1) / h.k;
  if (bytes->size() < min) return corruption("fragment record: shorter than its chunk needs");
  return h;
}

Result<std::shared_ptr<const ErasureCode>> ErasureCode::get(uint32_t k, uint32_t m) {
  if (k < 1 || k > kMaxDataFragments || m < 1 || m > kMaxParityFragments)
    return invalid_argument("erasure code " + std::to_string(k) + "+" + std::to_string(m) + ": K must be 1.." +
                            std::to_string(kMaxDataFragments) + " and M 1.." + std::to_string(kMaxParityFragments));
  static std::mutex mu;
  static std::map<std::pair<uint32_t, uint32_t>, std::shared_ptr<const ErasureCode>> codes;
  std::lock_guard lock(mu);
  auto& c = codes[{k, m}];
  if (!c) c.reset(new ErasureCode(k, m));
  return c;
}

ErasureCode::ErasureCode(uint32_t k, uint32_t m) : k_(k), m_(m) {
  // Cauchy: every K×K submatrix is invertible, so any K fragments decode.
  matrix_.resize(static_cast<size_t>(k + m) * k);
  gf_gen_cauchy1_matrix(reinterpret_cast<unsigned char*>(matrix_.data()), static_cast<int>(k + m),
                        static_cast<int>(k));
  encode_tbls_.resize(32 * static_cast<size_t>(k) * m);
  ec_init_tables(static_cast<int>(k), static_cast<int>(m), reinterpret_cast<unsigned char*>(matrix_.data()) + k * k,
                 reinterpret_cast<unsigned char*>(encode_tbls_.data()));
}

size_t ErasureCode::fragment_size(size_t n) const {
  size_t f = (n + k_ - 1) / k_;
  return (f + 63) / 64 * 64;  // ISA-L's vector kernels take 64 bytes and more
}

void ErasureCode::encode_raw(size_t len, const uint8_t* const* data, uint8_t* const* parity) const {
  ec_encode_data(static_cast<int>(len), static_cast<int>(k_), static_cast<int>(m_),
                 reinterpret_cast<unsigned char*>(const_cast<char*>(encode_tbls_.data())),
                 const_cast<unsigned char**>(data), const_cast<unsigned char**>(parity));
}

std::vector<std::string> ErasureCode::encode(std::string_view sealed) const {
  const size_t len = fragment_size(sealed.size());
  std::vector<std::string> out(k_ + m_);
  std::vector<uint8_t*> ptr(k_ + m_);
  for (uint32_t i = 0; i < k_ + m_; ++i) {
    out[i].assign(kFragmentHeaderSize + len, '\0');
    ptr[i] = reinterpret_cast<uint8_t*>(out[i].data()) + kFragmentHeaderSize;
    if (i < k_) {
      size_t from = std::min(sealed.size(), i * len);
      size_t n = std::min(len, sealed.size() - from);
      std::memcpy(ptr[i], sealed.data() + from, n);
    }
  }
  encode_raw(len, ptr.data(), ptr.data() + k_);
  for (uint32_t i = 0; i < k_ + m_; ++i) {
    std::string h;
    Encoder(&h).u8(kFragmentFormat).u8(static_cast<uint8_t>(k_)).u8(static_cast<uint8_t>(m_)).u8(
        static_cast<uint8_t>(i)).u32(static_cast<uint32_t>(sealed.size())).u32(crc32c(ptr[i], len));
    std::memcpy(out[i].data(), h.data(), kFragmentHeaderSize);
  }
  return out;
}

std::string ErasureCode::fragment(std::string_view sealed, uint32_t index) const {
  return std::move(encode(sealed)[index]);
}

Result<std::shared_ptr<const std::string>> ErasureCode::tables_for(const std::vector<uint32_t>& have,
                                                                  const std::vector<uint32_t>& want) const {
  auto key = std::make_pair(mask_of(have), mask_of(want));
  {
    std::lock_guard lock(mu_);
    if (auto it = decode_tbls_.find(key); it != decode_tbls_.end()) return it->second;
  }
  const auto* a = reinterpret_cast<const unsigned char*>(matrix_.data());
  std::vector<unsigned char> b(static_cast<size_t>(k_) * k_), inv(b.size());
  for (uint32_t r = 0; r < k_; ++r) std::memcpy(&b[r * k_], a + static_cast<size_t>(have[r]) * k_, k_);
  if (gf_invert_matrix(b.data(), inv.data(), static_cast<int>(k_)) != 0)
    return corruption("erasure code: the surviving fragments do not decode");
  // Row w of the decode matrix: for a data fragment, row w of the inverse; for
  // a parity fragment, its coding row times the inverse.
  std::vector<unsigned char> dm(want.size() * k_);
  for (size_t w = 0; w < want.size(); ++w) {
    if (want[w] < k_) {
      std::memcpy(&dm[w * k_], &inv[static_cast<size_t>(want[w]) * k_], k_);
      continue;
    }
    for (uint32_t c = 0; c < k_; ++c) {
      unsigned char s = 0;
      for (uint32_t j = 0; j < k_; ++j) s ^= gf_mul(a[static_cast<size_t>(want[w]) * k_ + j], inv[j * k_ + c]);
      dm[w * k_ + c] = s;
    }
  }
  auto t = std::make_shared<std::string>(32 * static_cast<size_t>(k_) * want.size(), '\0');
  ec_init_tables(static_cast<int>(k_), static_cast<int>(want.size()), dm.data(),
                 reinterpret_cast<unsigned char*>(t->data()));
  std::lock_guard lock(mu_);
  if (decode_tbls_.size() > 4096) decode_tbls_.clear();  // bounded: patterns are few in practice
  decode_tbls_[key] = t;
  return std::shared_ptr<const std::string>(t);
}

Status ErasureCode::rebuild_raw(size_t len, const std::vector<uint32_t>& have, const uint8_t* const* src,
                                const std::vector<uint32_t>& want, uint8_t* const* out) const {
  if (have.size() != k_) return invalid_argument("erasure code: a rebuild takes exactly K fragments");
  // The decode tables are cached by the sets of indexes: both lists ascending.
  if (!std::is_sorted(have.begin(), have.end()) || !std::is_sorted(want.begin(), want.end()))
    return invalid_argument("erasure code: fragment indexes must ascend");
  if (want.empty()) return Status::ok();
  KISEKI_ASSIGN_OR_RETURN(auto t, tables_for(have, want));
  ec_encode_data(static_cast<int>(len), static_cast<int>(k_), static_cast<int>(want.size()),
                 reinterpret_cast<unsigned char*>(const_cast<char*>(t->data())), const_cast<unsigned char**>(src),
                 const_cast<unsigned char**>(out));
  return Status::ok();
}

// The first K good records (ascending index): their indexes, their bytes,
// the chunk's sealed length and the fragment length. Damaged ones go to `bad`.
struct ErasureCode::Good {
  std::vector<uint32_t> have;
  std::vector<const uint8_t*> src;
  uint32_t length = 0;
  size_t len = 0;
};

ErasureCode::Good ErasureCode::good_records(const Records& records, std::vector<uint32_t>* bad) const {
  Good g;
  for (const auto& [i, rec] : records) {
    if (g.have.size() == k_) break;
    std::string_view bytes;
    auto h = parse_fragment(rec, &bytes);
    if (!h || h->k != k_ || h->m != m_ || h->index != i || (!g.have.empty() && g.length != h->sealed_length) ||
        bytes.size() != fragment_size(h->sealed_length)) {
      if (bad) bad->push_back(i);
      continue;
    }
    g.length = h->sealed_length;
    g.len = bytes.size();
    g.have.push_back(i);
    g.src.push_back(reinterpret_cast<const uint8_t*>(bytes.data()));
  }
  return g;
}

Result<std::vector<std::string>> ErasureCode::rebuild(const Records& records, const std::vector<uint32_t>& want) const {
  Good g = good_records(records, nullptr);
  if (g.have.size() < k_)
    return corruption("erasure code: " + std::to_string(g.have.size()) + " good fragments of the " +
                      std::to_string(k_) + " a rebuild needs");
  const size_t len = g.len;
  std::vector<std::string> out(want.size());
  std::vector<uint8_t*> outp;
  for (auto& o : out) {
    o.assign(kFragmentHeaderSize + len, '\0');
    outp.push_back(reinterpret_cast<uint8_t*>(o.data()) + kFragmentHeaderSize);
  }
  KISEKI_TRY(rebuild_raw(len, g.have, g.src.data(), want, outp.data()));
  for (size_t w = 0; w < want.size(); ++w) {
    std::string h;
    Encoder(&h).u8(kFragmentFormat).u8(static_cast<uint8_t>(k_)).u8(static_cast<uint8_t>(m_)).u8(
        static_cast<uint8_t>(want[w])).u32(g.length).u32(crc32c(outp[w], len));
    std::memcpy(out[w].data(), h.data(), kFragmentHeaderSize);
  }
  return out;
}

Status ErasureCode::decode(const Records& records, std::string* sealed, std::vector<uint32_t>* bad) const {
  Good g = good_records(records, bad);
  if (g.have.size() < k_)
    return corruption("erasure code: " + std::to_string(g.have.size()) + " good fragments of the " +
                      std::to_string(k_) + " a chunk needs");
  const size_t len = g.len;
  std::vector<uint32_t> want;
  for (uint32_t i = 0; i < k_; ++i)
    if (std::find(g.have.begin(), g.have.end(), i) == g.have.end()) want.push_back(i);
  std::vector<std::string> rebuilt(want.size(), std::string(len, '\0'));
  std::vector<uint8_t*> outp;
  for (auto& r : rebuilt) outp.push_back(reinterpret_cast<uint8_t*>(r.data()));
  KISEKI_TRY(rebuild_raw(len, g.have, g.src.data(), want, outp.data()));
  sealed->resize(g.length);
  for (uint32_t i = 0, w = 0; i < k_; ++i) {
    const uint8_t* p;
    if (w < want.size() && want[w] == i) p = outp[w++];
    else p = g.src[std::find(g.have.begin(), g.have.end(), i) - g.have.begin()];
    size_t from = static_cast<size_t>(i) * len;
    if (from >= g.length) break;
    std::memcpy(sealed->data() + from, p, std::min(len, g.length - from));
  }
  return Status::ok();
}

}  // namespace kiseki::cluster
