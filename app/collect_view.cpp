#include "app/collect_view.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QVBoxLayout>

#include "app/ui_util.h"

namespace countersign::app {

CollectView::CollectView(Session& session, QWidget* parent)
    : View(session, parent), model_(new ApproversModel(this)) {
  auto* layout = new QVBoxLayout(this);
  progress_ = value_label(this);
  QFont big = progress_->font();
  big.setPointSizeF(big.pointSizeF() * 1.3);
  big.setBold(true);
  progress_->setFont(big);
  layout->addWidget(progress_);
  summary_ = value_label(this);
  layout->addWidget(summary_);
  table_ = new QTableView(this);
  table_->setModel(model_);
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(ApproversModel::kDetail, QHeaderView::Stretch);
  table_->setColumnWidth(ApproversModel::kApprover, 220);
  layout->addWidget(table_, 1);
  auto* buttons = new QHBoxLayout();
  auto* add = new QPushButton(tr("Add signature or veto files…"), this);
  auto* paste_button = new QPushButton(tr("Paste signature"), this);
  paste_button->setShortcut(QKeySequence(tr("Ctrl+Shift+V")));
  export_ = new QPushButton(tr("Export bundle…"), this);
  buttons->addWidget(add);
  buttons->addWidget(paste_button);
  buttons->addStretch();
  buttons->addWidget(export_);
  layout->addLayout(buttons);
  connect(add, &QPushButton::clicked, this, &CollectView::add_files_requested);
  connect(paste_button, &QPushButton::clicked, this, &CollectView::paste);
  connect(export_, &QPushButton::clicked, this, [this] {
    const QString dir = QFileInfo(q(session_.ws().proposal_path)).absolutePath();
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export bundle"), dir + QStringLiteral("/bundle.json"), tr("Bundle (*.json)"));
    if (!path.isEmpty()) export_to(path);
  });
}

void CollectView::paste() {
  QString text = QApplication::clipboard()->text();
  bool ok = true;
  text = QInputDialog::getMultiLineText(this, tr("Paste signature"), tr("One-line or pretty signature:"),
                                        text, &ok);
  if (!ok || text.trimmed().isEmpty()) return;
  auto r = session_.ws().add_signature_text(text.toStdString());
  if (!r.ok()) {
    show_error(this, tr("Not added"), r.error());
    return;
  }
  session_.notify();
}

void CollectView::refresh() {
  const Workspace& ws = session_.ws();
  auto a = approval(ws, session_.now());
  if (a.ok()) {
    progress_->setText(q(a->progress));
    model_->set_state(ws, &*a);
    summary_->setText(tr("%n signature(s) for this proposal; policy %1 version %2.", "",
                         static_cast<int>(ws.signatures.size()))
                          .arg(q(ws.policy->domain()))
                          .arg(ws.policy->version()));
    export_->setEnabled(a->met && ws.subject.has_value());
  } else {
    progress_->setText(q(a.error().message));
    model_->set_state(ws, nullptr);
    summary_->setText(tr("Drop signature files on this window, or paste one-line signatures."));
    export_->setEnabled(false);
  }
}

bool CollectView::export_to(const QString& path) {
  auto b = export_bundle(session_.ws(), path.toStdString(), session_.now());
  if (!b.ok()) {
    show_error(this, tr("Could not export the bundle"), b.error());
    return false;
  }
  summary_->setText(
      tr("Bundle with %n signature(s) written to %1", "", static_cast<int>(b->signatures().size()))
          .arg(path));
  return true;
}

}  // namespace countersign::app
