// Policy: domain and version, rules per action, approvers and their keys with the PIN and
// touch policy and whether each key is proven to be in hardware, and (with the box's audit
// log export open) each approver's last liveness proof with the warnings of liveness_days.
#pragma once

#include <QTableView>

#include "app/model/policy_keys_model.h"
#include "app/view.h"

namespace countersign::app {

class PolicyView : public View {
  Q_OBJECT

 public:
  PolicyView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  QLabel* header() const { return header_; }
  QLabel* rules() const { return rules_; }
  QLabel* liveness() const { return liveness_; }
  PolicyKeysModel* keys() const { return model_; }

 private:
  QLabel* header_;
  QLabel* rules_;
  QLabel* liveness_;
  PolicyKeysModel* model_;
  QTableView* table_;
};

}  // namespace countersign::app
