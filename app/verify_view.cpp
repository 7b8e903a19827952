#include "app/verify_view.h"

#include <QFormLayout>
#include <QVBoxLayout>

#include "app/ui_util.h"

namespace countersign::app {

VerifyView::VerifyView(Session& session, QWidget* parent) : View(session, parent) {
  auto* layout = new QVBoxLayout(this);
  verdict_ = value_label(this);
  QFont big = verdict_->font();
  big.setPointSizeF(big.pointSizeF() * 1.5);
  big.setBold(true);
  verdict_->setFont(big);
  layout->addWidget(verdict_);
  auto* form = new QFormLayout();
  box_ = new QLineEdit(this);
  box_->setPlaceholderText(tr("optional: check that the proposal allows this box id"));
  form->addRow(tr("Box id:"), box_);
  layout->addLayout(form);
  report_ = new QPlainTextEdit(this);
  report_->setReadOnly(true);
  report_->setFont(fixed_font());
  layout->addWidget(report_, 1);
  connect(box_, &QLineEdit::editingFinished, this, &VerifyView::refresh);
}

void VerifyView::refresh() {
  auto check = verify_open_bundle(session_.ws(), session_.now(), box_->text().toStdString());
  if (!check.ok()) {
    verdict_->setText(tr("Nothing to verify yet"));
    verdict_->setStyleSheet(QString());
    report_->setPlainText(q(check.error().message));
    return;
  }
  const bool ok = check->report.approved;
  verdict_->setText(ok ? tr("✔ APPROVED — the box would act on this bundle")
                       : tr("✘ NOT APPROVED — the box would refuse this bundle"));
  verdict_->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b") : QStringLiteral("color: #b3261e"));
  QString source = session_.ws().bundle ? tr("Bundle %1").arg(q(session_.ws().bundle_path))
                                        : tr("The bundle Collect would export (not yet written)");
  report_->setPlainText(source + QStringLiteral("\nPolicy ") + q(session_.ws().policy_path) +
                        QStringLiteral("\n\n") + q(check->text));
}

}  // namespace countersign::app
