#include "app/diff_view.h"
#include "app/model/format.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QVBoxLayout>

#include "app/ui_util.h"
#include "core/review.h"

namespace countersign::app {

namespace {

QString sources_text(const std::vector<Source>& sources) {
  QStringList out;
  for (const auto& s : sources) out << untrusted(s.describe());
  return out.join(QStringLiteral("; "));
}

}  // namespace

DiffView::DiffView(Session& session, QWidget* parent)
    : View(session, parent),
      model_(new DiffModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      packages_(new PackagesModel(this)),
      packages_proxy_(new QSortFilterProxyModel(this)) {
  auto* layout = new QVBoxLayout(this);
  counts_ = value_label(this);
  QFont big = counts_->font();
  big.setPointSizeF(big.pointSizeF() * 1.3);
  big.setBold(true);
  counts_->setFont(big);
  layout->addWidget(counts_);
  source_ = value_label(this);
  layout->addWidget(source_);
  metadata_ = value_label(this);
  layout->addWidget(metadata_);

  auto* buttons = new QHBoxLayout();
  auto* open_prev = new QPushButton(tr("Open previous manifest…"), this);
  auto* folder = new QPushButton(tr("Known manifests folder…"), this);
  connect(open_prev, &QPushButton::clicked, this, &DiffView::open_previous_requested);
  connect(folder, &QPushButton::clicked, this, &DiffView::choose_folder_requested);
  filter_ = new QLineEdit(this);
  filter_->setPlaceholderText(tr("Filter by path or change (added, removed, changed)"));
  filter_->setClearButtonEnabled(true);
  buttons->addWidget(filter_, 1);
  buttons->addWidget(open_prev);
  buttons->addWidget(folder);
  open_previous_ = open_prev;
  choose_folder_ = folder;
  layout->addLayout(buttons);

  table_ = file_table(this, proxy_, model_, -1, DiffModel::kSortRole, DiffModel::kPath);
  table_->setColumnWidth(DiffModel::kChange, 120);
  table_->setColumnWidth(DiffModel::kDetail, 330);
  layout->addWidget(table_, 1);
  packages_table_ = package_table(this, packages_proxy_, packages_);
  packages_table_->hide();
  layout->addWidget(packages_table_, 1);
  connect(filter_, &QLineEdit::returnPressed, this, [this] {
    proxy_->setFilterFixedString(filter_->text());
    packages_proxy_->setFilterFixedString(filter_->text());
  });
  connect(filter_, &QLineEdit::textChanged, this, [this](const QString& t) {
    if (!t.isEmpty()) return;
    proxy_->setFilterFixedString(QString());
    packages_proxy_->setFilterFixedString(QString());
  });
}

void DiffView::show_packages(const Workspace& ws) {
  const PackagesReview* review = ws.packages_review_for_manifest();
  counts_->setText(q(package_change_counts(*ws.manifest)));
  source_->setText(
      tr("What %1 (%2 %3) changes on the box: each package against the version the box had "
         "when it was planned (its \"replaces\"); the box refuses the plan if that is no "
         "longer so.")
          .arg(q(ws.manifest_path), untrusted(ws.manifest->name()), untrusted(ws.manifest->version())));
  if (review) {
    metadata_->setText(tr("Changelog entries from %1.").arg(q(ws.packages_review_path)));
  } else if (ws.packages_review) {
    metadata_->setText(
        tr("⚠ %1 is the review of manifest %2, not of this one: its changelog entries are not shown.")
            .arg(q(ws.packages_review_path), q(digest_to_string(ws.packages_review->manifest()))));
  } else {
    metadata_->setText(
        tr("No review material open: open the file `countersign packages plan --review` wrote "
           "to see each package's changelog entries."));
  }
  packages_->set_manifest(*ws.manifest, review);
}

void DiffView::refresh() {
  const Workspace& ws = session_.ws();
  const bool packages = ws.manifest && ws.manifest->is_packages();
  table_->setVisible(!packages);
  packages_table_->setVisible(packages);
  open_previous_->setVisible(!packages);
  choose_folder_->setVisible(!packages);
  filter_->setPlaceholderText(packages ? tr("Filter packages by name, version or changelog")
                                       : tr("Filter by path or change (added, removed, changed)"));
  if (packages) {
    shown_.reset();
    model_->clear();
    show_packages(ws);
    return;
  }
  packages_->clear();
  if (ws.manifest && ws.previous && shown_ == std::make_pair(ws.previous->hash(), ws.manifest->hash()))
    return;
  shown_.reset();
  auto d = ws.diff();
  if (!ws.manifest) {
    counts_->setText(tr("No manifest open."));
    source_->clear();
    metadata_->clear();
    model_->clear();
    return;
  }
  if (!d) {
    counts_->setText(tr("Nothing to compare against."));
    QString hint = tr("Open the previous manifest by hand, or choose a folder of known manifests.");
    if (ws.proposal && ws.proposal->previous())
      hint = tr("The proposal replaces %1. ").arg(q(digest_to_string(*ws.proposal->previous()))) + hint;
    else if (ws.proposal)
      hint = tr("The proposal names no previous manifest (a first install). ") + hint;
    source_->setText(hint);
    metadata_->clear();
    model_->clear();
    return;
  }
  counts_->setText(tr("Δ %1 changed   + %2 added   − %3 removed   = %4 unchanged")
                       .arg(grouped(d->changed.size()))
                       .arg(grouped(d->added.size()))
                       .arg(grouped(d->removed.size()))
                       .arg(grouped(d->unchanged)));
  source_->setText(
      tr("Comparing against %1 (%2 %3)")
          .arg(q(ws.previous_path), untrusted(ws.previous->name()), untrusted(ws.previous->version())));
  QStringList meta;
  if (d->name_changed)
    meta << tr("Name: %1 → %2").arg(untrusted(d->name_changed->first), untrusted(d->name_changed->second));
  if (d->version_changed)
    meta << tr("Version: %1 → %2")
                .arg(untrusted(d->version_changed->first), untrusted(d->version_changed->second));
  if (d->license_changed)
    meta << tr("⚠ License: %1 → %2")
                .arg(untrusted(d->license_changed->first.spdx), untrusted(d->license_changed->second.spdx));
  if (!d->sources_added.empty()) meta << tr("+ Sources added: %1").arg(sources_text(d->sources_added));
  if (!d->sources_removed.empty()) meta << tr("− Sources removed: %1").arg(sources_text(d->sources_removed));
  if (d->sources_reordered) meta << tr("Sources reordered");
  if (meta.isEmpty()) meta << tr("Name, version, license and sources unchanged.");
  metadata_->setText(meta.join(QStringLiteral("\n")));
  model_->set_diff(std::move(*d));
  shown_ = std::make_pair(ws.previous->hash(), ws.manifest->hash());
}

}  // namespace countersign::app
