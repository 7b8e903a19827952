#include "app/log_view.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QVBoxLayout>

#include "app/ui_util.h"
#include "core/fileio.h"

namespace countersign::app {

LogView::LogView(Session& session, QWidget* parent)
    : View(session, parent), model_(new LogModel(this)), proxy_(new QSortFilterProxyModel(this)) {
  auto* layout = new QVBoxLayout(this);
  header_ = value_label(this);
  layout->addWidget(header_);
  auto* row = new QHBoxLayout();
  filter_ = new QLineEdit(this);
  filter_->setPlaceholderText(tr("Filter entries (event, proposal, details)"));
  filter_->setClearButtonEnabled(true);
  auto* verify = new QPushButton(tr("Verify with log key…"), this);
  row->addWidget(filter_, 1);
  row->addWidget(verify);
  layout->addLayout(row);
  status_ = value_label(this);
  layout->addWidget(status_);
  proxy_->setSourceModel(model_);
  proxy_->setFilterKeyColumn(-1);
  proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  table_ = new QTableView(this);
  table_->setModel(proxy_);
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setWordWrap(false);
  table_->horizontalHeader()->setSectionResizeMode(LogModel::kDetails, QHeaderView::Stretch);
  table_->setColumnWidth(LogModel::kTime, 170);
  table_->setColumnWidth(LogModel::kEvent, 170);
  table_->setColumnWidth(LogModel::kProposal, 200);
  layout->addWidget(table_, 1);
  connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
  connect(verify, &QPushButton::clicked, this, [this] {
    const QString key = QFileDialog::getOpenFileName(this, tr("Log public key (vkey)"), QString(),
                                                     tr("Log key (*.pub *.vkey);;All files (*)"));
    if (!key.isEmpty()) verify_with_key_file(key);
  });
}

void LogView::refresh() {
  const Workspace& ws = session_.ws();
  if (!ws.log) {
    header_->setText(
        tr("No audit log open. Open an export from `countersign log export` (and its checkpoint)."));
    model_->set_log(nullptr);
    status_->clear();
    return;
  }
  header_->setText(
      tr("%1 — %n entries", "", static_cast<int>(ws.log->lines.size())).arg(q(ws.log_path)) +
      (ws.checkpoint ? tr("; checkpoint %1").arg(q(ws.checkpoint_path)) : tr("; no checkpoint opened")));
  model_->set_log(&*ws.log);
}

bool LogView::verify_with_key_file(const QString& key_path) {
  auto text = read_file(key_path.toStdString(), 4096);
  if (!text.ok()) {
    show_error(this, tr("Cannot read the log key"), text.error());
    return false;
  }
  auto r = verify_log(session_.ws(), *text);
  if (!r.ok()) {
    status_->setText(tr("✘ NOT VERIFIED: %1").arg(q(r.error().message)));
    status_->setStyleSheet(QStringLiteral("color: #b3261e"));
    return false;
  }
  status_->setText(QStringLiteral("✔ ") + q(*r));
  status_->setStyleSheet(QStringLiteral("color: #1b7f3b"));
  return true;
}

}  // namespace countersign::app
