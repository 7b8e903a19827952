// Verify: the open bundle (or the one Collect would export) checked against the open
// policy, with the same report as `countersign bundle verify`.
#pragma once

#include <QLineEdit>
#include <QPlainTextEdit>

#include "app/view.h"

namespace countersign::app {

class VerifyView : public View {
  Q_OBJECT

 public:
  VerifyView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  QLabel* verdict() const { return verdict_; }
  QString report_text() const { return report_->toPlainText(); }

 private:
  QLabel* verdict_;
  QLineEdit* box_;
  QPlainTextEdit* report_;
};

}  // namespace countersign::app
