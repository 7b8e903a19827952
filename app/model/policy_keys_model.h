// The Policy table: one row per key of each approver, with its algorithm, PIN/touch policy
// and whether the key is proven to be in hardware (attestation against the session's roots:
// the pinned vendor roots and the app's --attestation-root files).
#pragma once

#include "app/model/rows_model.h"
#include "core/policy.h"
#include "smartcard/attestation.h"

namespace countersign::app {

class PolicyKeysModel : public RowsModel {
  Q_OBJECT

 public:
  enum Column { kApprover, kRoles, kAlg, kKeyId, kUserCheck, kAttestation };
  explicit PolicyKeysModel(QObject* parent = nullptr);
  void set_policy(const Policy* policy, const attestation::Roots& roots);
};

}  // namespace countersign::app
