// Policy: domain and version, rules per action, approvers and their keys with the PIN and
// touch policy and whether each key is proven to be in hardware.
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
  PolicyKeysModel* keys() const { return model_; }

 private:
  QLabel* header_;
  QLabel* rules_;
  PolicyKeysModel* model_;
  QTableView* table_;
};

}  // namespace countersign::app
