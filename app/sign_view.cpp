#include "app/sign_view.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QPushButton>
#include <QVBoxLayout>

#include "app/model/fingerprint.h"
#include "app/model/qr.h"
#include "app/secret_dialog.h"
#include "app/ui_util.h"
#include "core/review.h"

namespace countersign::app {

SignView::SignView(Session& session, QWidget* parent) : View(session, parent) {
  passphrase_source = [this](const QString& prompt) {
    return SecretDialog::ask(this, tr("Passphrase"), prompt);
  };
  auto* layout = new QVBoxLayout(this);
  what_ = value_label(this);
  layout->addWidget(what_);

  auto* signers = new QGroupBox(tr("Signers"), this);
  auto* form = new QFormLayout(signers);
  signer_ = new QLineEdit(signers);
  signer_->setPlaceholderText(tr("your approver id, as a hint for people (not signed)"));
  form->addRow(tr("Your name:"), signer_);
  auto* soft = new QPushButton(tr("Sign with a key file…"), signers);
  soft->setShortcut(QKeySequence(tr("Ctrl+Shift+S")));
  form->addRow(tr("Software key file:"), soft);
  holder_ = value_label(signers);
  form->addRow(QString(), holder_);
  auto* hw = value_label(signers);
  hw->setText(
      tr("FIDO2 security keys and PIV cards: not yet in the app; use "
         "`countersign sign --fido2` or `countersign sign --piv`."));
  form->addRow(tr("Hardware keys:"), hw);
  layout->addWidget(signers);
  connect(soft, &QPushButton::clicked, this, &SignView::choose_and_sign);

  status_ = value_label(this);
  layout->addWidget(status_);
  auto* out = new QGroupBox(tr("Signature for transfer"), this);
  auto* olayout = new QHBoxLayout(out);
  qr_ = new QLabel(out);
  qr_->setMinimumSize(200, 200);
  qr_->setAlignment(Qt::AlignCenter);
  olayout->addWidget(qr_);
  auto* right = new QVBoxLayout();
  line_ = new QLineEdit(out);
  line_->setReadOnly(true);
  line_->setFont(fixed_font());
  right->addWidget(new QLabel(tr("One line (paste it into the Collect view of another machine):"), out));
  right->addWidget(line_);
  auto* copy = new QPushButton(tr("Copy"), out);
  connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(line_->text()); });
  right->addWidget(copy, 0, Qt::AlignLeft);
  right->addStretch();
  olayout->addLayout(right, 1);
  layout->addWidget(out, 1);
}

void SignView::refresh() {
  const Workspace& ws = session_.ws();
  if (!ws.proposal) {
    what_->setText(tr("Open the proposal you are asked to sign (Ctrl+O). Review it first."));
    return;
  }
  const Proposal& p = *ws.proposal;
  what_->setText(
      tr("You are signing: %1 in %2, expires %3.\nProposal words: %4 — compare them with the proposer.")
          .arg(q(std::string(action_description(p.action()))), q(p.domain()),
               q(expiry_text(p.expires(), session_.now())), q(fingerprint(p.id()).words_text())));
}

void SignView::choose_and_sign() {
  if (!session_.ws().proposal) {
    show_error(this, tr("Nothing to sign"), Error(Errc::kInvalidArgument, "open a proposal first"));
    return;
  }
  const QString key = QFileDialog::getOpenFileName(this, tr("Key file"), QString(),
                                                   tr("Key files (*.key *.json);;All files (*)"));
  if (key.isEmpty()) return;
  const QString base = QFileInfo(session_.ws().proposal_path.empty() ? QStringLiteral("proposal")
                                                                     : q(session_.ws().proposal_path))
                           .completeBaseName();
  const QString suggested = QFileInfo(q(session_.ws().proposal_path)).absolutePath() + QStringLiteral("/") +
                            base + QStringLiteral(".") +
                            (signer_->text().isEmpty() ? QStringLiteral("me") : signer_->text()) +
                            QStringLiteral(".sig.json");
  const QString out =
      QFileDialog::getSaveFileName(this, tr("Save signature"), suggested, tr("Signature (*.json)"));
  if (out.isEmpty()) return;
  sign_with_key_file(key, out);
}

bool SignView::sign_with_key_file(const QString& key_path, const QString& out_path) {
  const Workspace& ws = session_.ws();
  if (!ws.proposal) return false;
  auto holder = key_file_holder(key_path.toStdString(), ws.policy ? &*ws.policy : nullptr);
  if (!holder.ok()) {
    show_error(this, tr("Cannot use this key file"), holder.error());
    return false;
  }
  holder_->setText(q(*holder));
  std::optional<SecretBytes> pass =
      passphrase_source(tr("Passphrase for %1\n%2").arg(QFileInfo(key_path).fileName(), q(*holder)));
  if (!pass) return false;
  std::optional<std::string> signer;
  if (!signer_->text().isEmpty()) signer = signer_->text().toStdString();
  auto sig = app::sign_with_key_file(*ws.proposal, key_path.toStdString(), *pass, signer, session_.now());
  pass->clear();
  if (!sig.ok()) {
    show_error(this, tr("Could not sign"), sig.error());
    return false;
  }
  auto saved = save_signature(*sig, out_path.toStdString());
  if (!saved.ok()) {
    show_error(this, tr("Could not save the signature"), saved.error());
    return false;
  }
  const std::string line = signature_one_line(*sig);
  line_->setText(q(line));
  auto img = qr_image(line, 4);
  if (img.ok()) {
    qr_image_ = *img;
    qr_->setPixmap(QPixmap::fromImage(qr_image_));
  } else {
    qr_->setText(q(img.error().message));
  }
  status_->setText(
      tr("Signed. Saved to %1. Hand over the file, the QR code or the line below.").arg(out_path));
  auto added = session_.ws().add(Document{DocKind::kSignature, out_path.toStdString(), *sig});
  (void)added;  // a signature for the open proposal is always accepted
  session_.notify();
  return true;
}

}  // namespace countersign::app
