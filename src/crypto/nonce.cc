#include "crypto/nonce.h"

#include <pthread.h>

#include <atomic>
#include <cassert>
#include <cstring>
#include <mutex>

#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

// Bumped in a forked child: its threads' runs were copied from the parent and
// must not be continued there.
std::atomic<uint64_t> g_fork_generation{1};

void after_fork_in_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct NonceRun {
  uint64_t generation = 0;  // none drawn yet
  uint8_t prefix[4];
  uint64_t counter;  // nonces are public: nothing here needs wiping
};

}  // namespace

void next_gcm_nonce(MutableByteSpan out) {
  assert(out.size() == kGcmNonceSize);
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, after_fork_in_child); });
  thread_local NonceRun run;
  uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (run.generation != generation) {
    uint8_t start[kGcmNonceSize];
    random_bytes({start, sizeof(start)});
    std::memcpy(run.prefix, start, sizeof(run.prefix));
    run.counter = get_be64(start + sizeof(run.prefix));
    run.generation = generation;
  }
  std::memcpy(out.data(), run.prefix, sizeof(run.prefix));
  put_be64(out.data() + sizeof(run.prefix), run.counter++);
}

}  // namespace kiseki::crypto
