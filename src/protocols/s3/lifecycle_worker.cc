#include "protocols/s3/lifecycle_worker.h"

#include "common/logging.h"

namespace kiseki::s3 {

LifecycleWorker::LifecycleWorker(gateway::Gateway* gw, const Clock* clock, std::chrono::seconds interval)
    : gw_(gw),
      clock_(clock),
      interval_(interval),
      expired_(MetricsRegistry::global().counter("kiseki_lifecycle_expired_total",
                                                 "objects deleted by lifecycle expiration rules")),
      aborted_(MetricsRegistry::global().counter("kiseki_lifecycle_aborted_uploads_total",
                                                 "multipart uploads aborted by lifecycle rules")) {
  if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
}

LifecycleWorker::~LifecycleWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LifecycleWorker::loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    if (gw_->coordinates()) {
      Report r = run_once(clock_->now_ns());
      if (r.expired || r.aborted || r.errors)
        KLOG_INFO("lifecycle: {} objects expired, {} uploads aborted, {} errors in {} buckets", r.expired, r.aborted,
                  r.errors, r.buckets);
    }
    lock.lock();
  }
}

LifecycleWorker::Report LifecycleWorker::run_once(int64_t now_ns) {
  std::lock_guard run(run_mu_);
  Report report;
  for (const auto& t : gw_->list_tenants()) {
    if (t.shredded) continue;
    for (const auto& ns : gw_->list_namespaces(t.id)) {
      auto doc = gw_->get_namespace_config(ns.ref, kLifecycleItem);
      if (!doc) continue;
      auto rules = parse_lifecycle_xml(*doc);
      if (!rules) {
        KLOG_WARN("lifecycle of {}: {}", ns.name, rules.status().to_string());
        ++report.errors;
        continue;
      }
      ++report.buckets;
      for (const auto& rule : *rules)
        if (rule.enabled) apply(ns, rule, now_ns, &report);
    }
  }
  return report;
}

void LifecycleWorker::apply(const gateway::NamespaceInfo& ns, const LifecycleRule& rule, int64_t now_ns,
                            Report* report) {
  auto failed = [&](std::string_view what, const Status& st) {
    if (st.code() == ErrorCode::kNotFound || st.code() == ErrorCode::kPreconditionFailed ||
        st.code() == ErrorCode::kNotEmpty || st.code() == ErrorCode::kNotPermitted)
      return;  // gone, written since, a folder that still holds something, or locked
    KLOG_WARN("lifecycle of {}: {}: {}", ns.name, what, st.to_string());
    ++report->errors;
  };
  if (rule.expiration_days || rule.expiration_date_ns) {
    gateway::ListRequest lr;
    lr.prefix = rule.prefix;
    lr.max_keys = 1000;
    for (;;) {
      auto page = gw_->list_objects(ns.ref, lr);
      if (!page) {
        failed("listing", page.status());
        break;
      }
      for (const auto& o : page->objects) {
        int64_t due = rule.expiration_date_ns ? *rule.expiration_date_ns
                                              : lifecycle_due_ns(o.mtime_ns, *rule.expiration_days);
        if (now_ns < due) continue;
        TagSet tags;
        if (!rule.tags.empty()) {
          auto head = gw_->head_object(ns.ref, o.key);
          if (!head) continue;
          if (auto t = head->meta.headers.find(kTagsHeader); t != head->meta.headers.end())
            if (auto parsed = parse_tag_header(t->second)) tags = std::move(*parsed);
        }
        if (!lifecycle_filter_matches(rule, o.key, o.size, tags)) continue;
        gateway::DeleteConditions cond;
        cond.if_unmodified_since_ns = o.mtime_ns;
        Status st = gw_->delete_object(ns.ref, o.key, cond);
        if (st) {
          ++report->expired;
          expired_->inc();
        } else {
          failed(o.key, st);
        }
      }
      if (!page->truncated) break;
      lr.start_after = page->next_start_after;
    }
  }
  if (rule.noncurrent_days || rule.expired_delete_markers) expire_versions(ns, rule, now_ns, report);
  if (rule.abort_upload_days) {
    auto uploads = gw_->list_uploads(ns.ref, rule.prefix);
    if (!uploads) return failed("uploads", uploads.status());
    for (const auto& u : *uploads) {
      if (now_ns < lifecycle_due_ns(u.initiated_ns, *rule.abort_upload_days)) continue;
      Status st = gw_->abort_upload(ns.ref, u.upload_id);
      if (st) {
        ++report->aborted;
        aborted_->inc();
      } else {
        failed(u.key, st);
      }
    }
  }
}

// A version stops being current when the next one is made (the one listed just
// before it, for the same key): noncurrent versions are due `noncurrent_days`
// after that. A delete marker left as its key's only version goes too.
void LifecycleWorker::expire_versions(const gateway::NamespaceInfo& ns, const LifecycleRule& rule, int64_t now_ns,
                                      Report* report) {
  gateway::VersionListRequest vr;
  vr.prefix = rule.prefix;
  vr.max_keys = 1000;
  std::string key;         // of the version before
  int64_t newer_ns = 0;    // when the version before it was made
  std::optional<gateway::ObjectVersion> lone_marker;  // a latest marker, if no version follows it
  auto drop = [&](const gateway::ObjectInfo& v) {
    Status st = gw_->delete_object_version(ns.ref, v.key, v.version_id).status();
    if (st) {
      ++report->expired;
      expired_->inc();
    } else if (st.code() != ErrorCode::kNotFound && st.code() != ErrorCode::kNotPermitted) {
      KLOG_WARN("lifecycle of {}: {}: {}", ns.name, v.key, st.to_string());
      ++report->errors;
    }
  };
  for (;;) {
    auto page = gw_->list_object_versions(ns.ref, vr);
    if (!page) {
      KLOG_WARN("lifecycle of {}: listing versions: {}", ns.name, page.status().to_string());
      ++report->errors;
      return;
    }
    for (const auto& v : page->versions) {
      const gateway::ObjectInfo& o = v.info;
      if (o.key != key) {
        if (lone_marker) drop(lone_marker->info);
        lone_marker.reset();
      } else {
        lone_marker.reset();  // the marker has a version below it
      }
      bool noncurrent = o.key == key && !v.latest;
      TagSet tags;
      if (!rule.tags.empty() && !o.delete_marker)
        if (auto t = o.meta.headers.find(kTagsHeader); t != o.meta.headers.end())
          if (auto parsed = parse_tag_header(t->second)) tags = std::move(*parsed);
      bool matches = lifecycle_filter_matches(rule, o.key, o.size, tags);
      if (noncurrent && matches && rule.noncurrent_days && now_ns >= lifecycle_due_ns(newer_ns, *rule.noncurrent_days))
        drop(o);
      else if (v.latest && o.delete_marker && rule.expired_delete_markers && matches)
        lone_marker = v;
      key = o.key;
      newer_ns = o.mtime_ns;
      vr.key_marker = o.key;
      vr.version_id_marker = o.version_id;
    }
    if (!page->truncated) break;
  }
  if (lone_marker) drop(lone_marker->info);
}

}  // namespace kiseki::s3
