// The daemon's copy of the policy in force, for its advisory checks (admission.h), /v1/status
// and /v1/policy: the helper's policy chain (system/records.h) replayed from the configured
// root when the daemon opens, and again after each rotation the helper made. The helper
// judges every bundle against its own copy; this one only gives quick answers.
// Thread-safe.
#pragma once

#include <mutex>

#include "core/policy.h"

namespace countersign::daemon {

class PolicyInForce {
 public:
  explicit PolicyInForce(Policy policy) : policy_(std::move(policy)) {}

  Policy get() const {
    std::lock_guard lock(mu_);
    return policy_;
  }
  void set(Policy policy) {
    std::lock_guard lock(mu_);
    policy_ = std::move(policy);
  }

 private:
  mutable std::mutex mu_;
  Policy policy_;
};

}  // namespace countersign::daemon
