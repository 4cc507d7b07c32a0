// Status / Result<T>: Kiseki's one error model. Every protocol maps ErrorCode onto
// its own codes (S3 error XML, NFS3ERR_*, errno) in one function of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kiseki {

// One table of codes. Add a code only if some caller reacts to it differently.
enum class ErrorCode : uint8_t {
  kOk = 0,
  kNotFound,          // no such tenant, namespace, inode, name, object, upload
  kExists,            // name or object already exists (exclusive create)
  kNotDirectory,      // a path component is not a directory
  kIsDirectory,       // file operation on a directory
  kNotEmpty,          // rmdir / rename over a non-empty directory
  kNameTooLong,       // a name longer than 255 bytes or a key longer than 1024
  kPermissionDenied,  // credentials or mode bits forbid it
  kInvalidArgument,   // malformed name, offset, size, id or request
  kNoSpace,           // the device is full
  kQuotaExceeded,     // a tenant or namespace quota is reached
  kStale,             // a handle names an inode that no longer exists
  kConflict,          // concurrent change or a key that is both file and prefix
  kUnavailable,       // retry later: shutting down, overloaded, not leader
  kCorruption,        // checksum or authentication tag mismatch: never wrong data
  kIoError,           // the OS returned an I/O error
  kTimeout,           // a deadline passed
  kNotSupported,      // a valid request that this node does not implement
  kPreconditionFailed,// a conditional request's condition does not hold
  kCryptoShredded,    // the tenant's key has been destroyed
  kNotPermitted,      // only the owner or root may (POSIX EPERM), as opposed to mode bits
};

std::string_view error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == ErrorCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status make_error(ErrorCode code, std::string message) { return {code, std::move(message)}; }
inline Status not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status corruption(std::string m) { return {ErrorCode::kCorruption, std::move(m)}; }
inline Status io_error(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
Status errno_status(std::string_view what, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }
  ErrorCode code() const { return is_ok() ? ErrorCode::kOk : std::get<1>(v_).code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kiseki

#define KISEKI_CONCAT_INNER(a, b) a##b
#define KISEKI_CONCAT(a, b) KISEKI_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is an error.
#define KISEKI_TRY(expr)                          \
  do {                                            \
    ::kiseki::Status _kiseki_st = (expr);         \
    if (!_kiseki_st.is_ok()) return _kiseki_st;   \
  } while (0)

// `KISEKI_ASSIGN_OR_RETURN(auto x, result_expr);`
#define KISEKI_ASSIGN_OR_RETURN(lhs, rexpr) \
  KISEKI_ASSIGN_OR_RETURN_IMPL(KISEKI_CONCAT(_kiseki_r, __LINE__), lhs, rexpr)
#define KISEKI_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.is_ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
