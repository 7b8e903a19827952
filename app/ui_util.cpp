#include "app/ui_util.h"
#include "app/model/packages_model.h"

#include <QFontDatabase>
#include <QHeaderView>
#include <QMessageBox>
#include <QSortFilterProxyModel>
#include <QTableView>

namespace countersign::app {

namespace {

std::function<void(const QString&)>& sink() {
  static std::function<void(const QString&)> s;
  return s;
}

QString advice(Errc code) {
  switch (code) {
    case Errc::kWrongPassphrase:
      return QObject::tr("Check the passphrase (and the keyboard layout) and try again.");
    case Errc::kWrongPin:
      return QObject::tr("Check the PIN and try again; each wrong try uses up one retry.");
    case Errc::kPinLocked:
      return QObject::tr("The PIN is locked: unblock it with the PUK or reset the key.");
    case Errc::kNoDevice:
      return QObject::tr("Plug in the security key or insert the card, then try again.");
    case Errc::kUnknownSchema:
      return QObject::tr(
          "Open a proposal, manifest, bundle, signature, policy, exported audit log or box attestation.");
    case Errc::kMalformed:
    case Errc::kInvalidDocument:
      return QObject::tr("The file is damaged or was edited by hand; ask its author for a fresh copy.");
    case Errc::kIo:
    case Errc::kNotFound:
      return QObject::tr("Check that the file or folder exists and that you may read or write it.");
    case Errc::kRejected:
      return QObject::tr("Ask the proposer for a new proposal or check the policy.");
    default:
      return QObject::tr("Check the message above; nothing was changed.");
  }
}

}  // namespace

void set_error_sink(std::function<void(const QString&)> s) { sink() = std::move(s); }

void show_error(QWidget* parent, const QString& what, const Error& error) {
  const QString text = what + QStringLiteral(":\n") + q(error.message);
  if (sink()) {
    sink()(text + QStringLiteral("\n") + advice(error.code));  // all the box would show
    return;
  }
  QMessageBox box(QMessageBox::Warning, what, text, QMessageBox::Ok, parent);
  box.setInformativeText(advice(error.code));
  box.exec();
}

QFont fixed_font() { return QFontDatabase::systemFont(QFontDatabase::FixedFont); }

QLabel* value_label(QWidget* parent) {
  auto* l = new QLabel(parent);
  l->setTextFormat(Qt::PlainText);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
  l->setWordWrap(true);
  return l;
}

QString q(const std::string& s) { return QString::fromStdString(s); }

QTableView* file_table(QWidget* parent, QSortFilterProxyModel* proxy, QAbstractItemModel* model,
                       int filter_column, int sort_role, int stretch_column) {
  proxy->setSourceModel(model);
  proxy->setFilterKeyColumn(filter_column);
  proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
  proxy->setSortRole(sort_role);
  auto* table = new QTableView(parent);
  table->setModel(proxy);
  table->verticalHeader()->hide();
  table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
  table->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
  table->setSortingEnabled(true);
  table->setSelectionBehavior(QAbstractItemView::SelectRows);
  table->setWordWrap(false);
  table->horizontalHeader()->setSectionResizeMode(stretch_column, QHeaderView::Stretch);
  return table;
}

QTableView* package_table(QWidget* parent, QSortFilterProxyModel* proxy, QAbstractItemModel* model) {
  QTableView* table = file_table(parent, proxy, model, -1, Qt::DisplayRole, PackagesModel::kChangelog);
  table->setAlternatingRowColors(true);
  table->setColumnWidth(PackagesModel::kChange, 80);
  table->setColumnWidth(PackagesModel::kPackage, 200);
  table->setColumnWidth(PackagesModel::kInstalled, 110);
  table->setColumnWidth(PackagesModel::kApproved, 110);
  return table;
}

}  // namespace countersign::app
