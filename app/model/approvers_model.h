// The Collect table: one row per approver of the policy with their roles and state under
// the open proposal's rule (counted; invalid, with the reason; missing; not allowed by the
// rule; vetoed; the proposer, whose own signature the rule does not count), plus a row for
// each signature or veto by a key the policy does not know.
#pragma once

#include "app/model/rows_model.h"
#include "app/model/workspace.h"

namespace countersign::app {

class ApproversModel : public RowsModel {
  Q_OBJECT

 public:
  enum Column { kApprover, kRoles, kState, kDetail };
  enum class State { kCounted, kInvalid, kMissing, kNotAllowed, kUnchecked, kVetoed, kProposer };
  explicit ApproversModel(QObject* parent = nullptr);

  // From the approval report (policy open) or, without a policy, the bare signatures.
  void set_state(const Workspace& ws, const Approval* approval);
  State state_at(int row) const { return states_[static_cast<std::size_t>(row)]; }
  // "counted", "invalid", "missing", "not allowed", "not checked", "vetoed", "proposer".
  static QString state_name(State s);

 protected:
  QVariant row_decoration(int row) const override;

 private:
  std::vector<State> states_;
};

}  // namespace countersign::app
