// Collect: signatures dropped or pasted onto the open proposal, the approvers' states under
// the policy, the progress line, and Export bundle once the rule is met.
#pragma once

#include <QPushButton>
#include <QTableView>

#include "app/model/approvers_model.h"
#include "app/view.h"

namespace countersign::app {

class CollectView : public View {
  Q_OBJECT

 public:
  CollectView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  // Writes the bundle; false (after an error dialog) when it cannot.
  bool export_to(const QString& path);

  QLabel* progress() const { return progress_; }
  ApproversModel* approvers() const { return model_; }
  QPushButton* export_button() const { return export_; }

 signals:
  void add_files_requested();

 private:
  void paste();
  QLabel* progress_;
  QLabel* summary_;
  ApproversModel* model_;
  QTableView* table_;
  QPushButton* export_;
};

}  // namespace countersign::app
