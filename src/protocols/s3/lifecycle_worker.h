// The lifecycle worker: applies every bucket's lifecycle rules (lifecycle.h)
// in the background: expires objects and aborts multipart uploads left
// incomplete, each delete conditional on the object being the one that
// expired (one written meanwhile stays). In a cluster only the node that
// coordinates (Gateway::coordinates) runs its passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"
#include "gateway/gateway.h"
#include "protocols/s3/lifecycle.h"

namespace kiseki::s3 {

class LifecycleWorker {
 public:
  struct Report {
    uint64_t buckets = 0;   // with rules
    uint64_t expired = 0;   // objects deleted
    uint64_t aborted = 0;   // uploads aborted
    uint64_t errors = 0;    // deletes that failed (logged; tried again next pass)
  };
  // `interval` between passes, 0: no thread (run_once only). `clock` gives the
  // passes' time.
  LifecycleWorker(gateway::Gateway* gw, const Clock* clock, std::chrono::seconds interval);
  ~LifecycleWorker();
  LifecycleWorker(const LifecycleWorker&) = delete;
  LifecycleWorker& operator=(const LifecycleWorker&) = delete;

  // One pass over every bucket with rules, as if the time were `now_ns`.
  Report run_once(int64_t now_ns);
  const Clock& clock() const { return *clock_; }

 private:
  void loop();
  void apply(const gateway::NamespaceInfo& ns, const LifecycleRule& rule, int64_t now_ns, Report* report);
  void expire_versions(const gateway::NamespaceInfo& ns, const LifecycleRule& rule, int64_t now_ns, Report* report);

  gateway::Gateway* gw_;
  const Clock* clock_;
  std::chrono::seconds interval_;
  Counter* expired_;
  Counter* aborted_;
  std::mutex run_mu_;  // one pass at a time
  std::mutex mu_;      // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kiseki::s3
