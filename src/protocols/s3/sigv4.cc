#include "protocols/s3/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace kiseki::s3 {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Header values in the canonical request: trimmed, inner runs of spaces folded.
std::string fold_spaces(std::string_view v) {
  v = trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string hex(const crypto::Digest& d) { return to_hex(d); }

}  // namespace

Result<Credential> parse_credential(std::string_view value) {
  // AKID/20130524/us-east-1/s3/aws4_request; the access key may not contain '/'.
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= value.size()) {
    size_t slash = value.find('/', start);
    if (slash == std::string_view::npos) slash = value.size();
    parts.push_back(value.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[1].size() != 8 || parts[0].empty())
    return invalid_argument("malformed credential scope");
  return Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

Result<AuthHeader> parse_authorization(std::string_view header) {
  header = trim(header);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm) return invalid_argument("unsupported authorization type");
  header.remove_prefix(kAlgorithm.size());
  AuthHeader out;
  bool have_cred = false, have_signed = false, have_sig = false;
  size_t start = 0;
  while (start < header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view kv = trim(header.substr(start, comma - start));
    start = comma + 1;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = trim(kv.substr(0, eq)), v = trim(kv.substr(eq + 1));
    if (k == "Credential") {
      KISEKI_ASSIGN_OR_RETURN(out.credential, parse_credential(v));
      have_cred = true;
    } else if (k == "SignedHeaders") {
      size_t s = 0;
      while (s <= v.size()) {
        size_t semi = v.find(';', s);
        if (semi == std::string_view::npos) semi = v.size();
        if (semi > s) out.signed_headers.emplace_back(v.substr(s, semi - s));
        s = semi + 1;
      }
      have_signed = !out.signed_headers.empty();
    } else if (k == "Signature") {
      out.signature = std::string(v);
      have_sig = v.size() == 64;
    }
  }
  if (!have_cred || !have_signed || !have_sig) return invalid_argument("malformed Authorization header");
  return out;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool uri_decode(std::string_view s, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      Bytes b;
      if (!from_hex(s.substr(i + 1, 2), &b)) return false;
      out->push_back(static_cast<char>(b[0]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool parse_query(std::string_view raw, QueryParams* out, bool plus_is_space) {
  out->clear();
  size_t start = 0;
  while (start < raw.size()) {
    size_t amp = raw.find('&', start);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view kv = raw.substr(start, amp - start);
    start = amp + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k, v;
    if (!uri_decode(kv.substr(0, eq), &k, plus_is_space)) return false;
    if (eq != std::string_view::npos && !uri_decode(kv.substr(eq + 1), &v, plus_is_space)) return false;
    out->emplace_back(std::move(k), std::move(v));
  }
  return true;
}

std::string canonical_query(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> enc;
  for (const auto& [k, v] : params) {
    if (k == "X-Amz-Signature") continue;
    enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
  }
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string canonical_request(const CanonicalInput& in) {
  std::string out;
  out.reserve(512);
  out.append(in.method).push_back('\n');
  out += uri_encode(in.decoded_path.empty() ? "/" : in.decoded_path, true);
  out.push_back('\n');
  out += in.query ? canonical_query(*in.query) : "";
  out.push_back('\n');
  for (const auto& name : *in.signed_headers) {
    out += name;
    out.push_back(':');
    auto it = in.headers->find(name);
    if (it != in.headers->end()) {
      for (size_t i = 0; i < it->second.size(); ++i) {
        if (i) out.push_back(',');
        out += fold_spaces(it->second[i]);
      }
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < in.signed_headers->size(); ++i) {
    if (i) out.push_back(';');
    out += (*in.signed_headers)[i];
  }
  out.push_back('\n');
  out.append(in.payload_hash);
  return out;
}

std::string string_to_sign(std::string_view amz_date, const Credential& cred, std::string_view canonical) {
  std::string s(kAlgorithm);
  s.push_back('\n');
  s.append(amz_date).push_back('\n');
  s += cred.scope();
  s.push_back('\n');
  s += hex(crypto::sha256(as_bytes(canonical)));
  return s;
}

crypto::Digest signing_key(std::string_view secret, const Credential& cred) {
  // A client signs all of a day's requests with one key: the thread's last
  // one spares the four HMACs. The old secret is wiped before it is replaced.
  struct Last {
    std::string secret, date, region, service;
    crypto::Digest key{};
    bool valid = false;
    ~Last() {
      secure_zero(secret.data(), secret.size());
      secure_zero(key.data(), key.size());
    }
  };
  thread_local Last last;
  if (last.valid && last.secret == secret && last.date == cred.date && last.region == cred.region &&
      last.service == cred.service)
    return last.key;
  std::string k = "AWS4" + std::string(secret);
  auto d = crypto::hmac_sha256(as_bytes(k), as_bytes(cred.date));
  d = crypto::hmac_sha256(d, as_bytes(cred.region));
  d = crypto::hmac_sha256(d, as_bytes(cred.service));
  d = crypto::hmac_sha256(d, as_bytes("aws4_request"));
  secure_zero(k.data(), k.size());
  secure_zero(last.secret.data(), last.secret.size());
  last.secret = secret;
  last.date = cred.date;
  last.region = cred.region;
  last.service = cred.service;
  last.key = d;
  last.valid = true;
  return d;
}

std::string sign_hex(const crypto::Digest& key, std::string_view sts) {
  return hex(crypto::hmac_sha256(key, as_bytes(sts)));
}

std::string chunk_string_to_sign(std::string_view amz_date, const Credential& cred, std::string_view prev_signature,
                                 ByteSpan chunk) {
  std::string s = "AWS4-HMAC-SHA256-PAYLOAD\n";
  s.append(amz_date).push_back('\n');
  s += cred.scope();
  s.push_back('\n');
  s.append(prev_signature).push_back('\n');
  s.append(kEmptySha256).push_back('\n');
  s += hex(crypto::sha256(chunk));
  return s;
}

std::string trailer_string_to_sign(std::string_view amz_date, const Credential& cred,
                                   std::string_view prev_signature, std::string_view trailer_block) {
  std::string s = "AWS4-HMAC-SHA256-TRAILER\n";
  s.append(amz_date).push_back('\n');
  s += cred.scope();
  s.push_back('\n');
  s.append(prev_signature).push_back('\n');
  s += hex(crypto::sha256(as_bytes(trailer_block)));
  return s;
}

bool signatures_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kiseki::s3
