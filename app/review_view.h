// Review: the proposal in plain words with its id as a fingerprint to read aloud, and the
// manifest (name, version, license, sources, the filterable file table).
#pragma once

#include <QFormLayout>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTimer>
#include <map>
#include <optional>

#include "app/model/manifest_files_model.h"
#include "app/view.h"

namespace countersign::app {

class ReviewView : public View {
  Q_OBJECT

 public:
  ReviewView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  // For tests.
  QLabel* field(const QString& name) const;
  QLineEdit* filter() const { return filter_; }
  QSortFilterProxyModel* files_proxy() const { return proxy_; }

 private:
  QLabel* add_field(QFormLayout* form, const QString& name, const QString& label);
  std::map<QString, QLabel*> fields_;
  ManifestFilesModel* files_;
  QSortFilterProxyModel* proxy_;
  QLineEdit* filter_;
  QTableView* table_;
  QTimer filter_timer_;
  std::optional<Digest> shown_manifest_;  // the file table is refilled only when this changes
};

}  // namespace countersign::app
