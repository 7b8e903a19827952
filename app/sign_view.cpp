#include "app/sign_view.h"

#include <QApplication>
#include <QClipboard>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QProgressDialog>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>
#include <atomic>
#include <memory>
#include <thread>

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
  device_ = new QLineEdit(signers);
  device_->setPlaceholderText(tr("empty: every connected key; or a hidraw path, or unix:PATH"));
  auto* find = new QPushButton(tr("Find security keys"), signers);
  auto* device_row = new QHBoxLayout();
  device_row->addWidget(device_, 1);
  device_row->addWidget(find);
  form->addRow(tr("FIDO2 security key:"), device_row);
  fido2_list_ = new QComboBox(signers);
  auto* hw_sign = new QPushButton(tr("Sign with security key…"), signers);
  auto* hw_row = new QHBoxLayout();
  hw_row->addWidget(fido2_list_, 1);
  hw_row->addWidget(hw_sign);
  form->addRow(QString(), hw_row);
  auto* piv = value_label(signers);
  piv->setText(tr("PIV cards: not yet in the app; use `countersign sign --piv`."));
  form->addRow(tr("PIV card:"), piv);
  layout->addWidget(signers);
  connect(soft, &QPushButton::clicked, this, &SignView::choose_and_sign);
  connect(find, &QPushButton::clicked, this, [this] { find_fido2(device_->text()); });
  connect(hw_sign, &QPushButton::clicked, this, [this] {
    if (fido2_list_->currentIndex() < 0) {
      show_error(this, tr("No security key"),
                 Error(Errc::kNoDevice, "find a security key that holds a policy key first"));
      return;
    }
    const QString out =
        ask_out_path(q(fido2_[static_cast<std::size_t>(fido2_list_->currentIndex())].approver));
    if (!out.isEmpty()) sign_with_fido2(fido2_list_->currentIndex(), out);
  });
  pin_source = [this](const QString& prompt, int retries) {
    return SecretDialog::ask(this, tr("Security key PIN"), prompt, retries);
  };

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
  const QString out = ask_out_path(signer_->text().isEmpty() ? QStringLiteral("me") : signer_->text());
  if (out.isEmpty()) return;
  sign_with_key_file(key, out);
}

QString SignView::ask_out_path(const QString& who) {
  const QString proposal = q(session_.ws().proposal_path);
  const QString base =
      proposal.isEmpty() ? QStringLiteral("proposal") : QFileInfo(proposal).completeBaseName();
  const QString suggested = QFileInfo(proposal).absolutePath() + QStringLiteral("/") + base +
                            QStringLiteral(".") + who + QStringLiteral(".sig.json");
  return QFileDialog::getSaveFileName(this, tr("Save signature"), suggested, tr("Signature (*.json)"));
}

int SignView::find_fido2(const QString& device) {
  fido2_.clear();
  fido2_list_->clear();
  if (!session_.ws().policy) {
    show_error(this, tr("No policy open"),
               Error(Errc::kInvalidArgument, "open the policy: it names the credentials"));
    return 0;
  }
  auto found = find_fido2_signers(*session_.ws().policy, device.toStdString());
  if (!found.ok()) {
    show_error(this, tr("Could not look for security keys"), found.error());
    return 0;
  }
  fido2_ = std::move(*found);
  for (const auto& m : fido2_) {
    fido2_list_->addItem(tr("%1's key %2 on %3 (%4)")
                             .arg(q(m.approver), q(m.key.key.id().substr(0, 16)),
                                  q(m.product.empty() ? m.device : m.product),
                                  m.needs_pin() ? tr("PIN and touch") : tr("touch")));
  }
  status_->setText(fido2_.empty() ? tr("No connected security key holds a key of this policy.")
                                  : tr("%n security key credential(s) of this policy found.", "",
                                       static_cast<int>(fido2_.size())));
  return static_cast<int>(fido2_.size());
}

bool SignView::sign_with_fido2(int index, const QString& out_path) {
  const Workspace& ws = session_.ws();
  if (!ws.proposal || index < 0 || static_cast<std::size_t>(index) >= fido2_.size()) return false;
  const Fido2Match match = fido2_[static_cast<std::size_t>(index)];
  const std::optional<std::string> signer =
      signer_->text().isEmpty() ? match.approver : signer_->text().toStdString();
  int retries = -1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<SecretBytes> pin;
    if (match.needs_pin()) {
      auto entered =
          pin_source(tr("PIN of the security key holding %1's key").arg(q(match.approver)), retries);
      if (!entered) return false;
      pin = std::make_shared<SecretBytes>(std::move(*entered));
    }
    // The key waits for a touch inside libfido2: run that off the GUI thread and show
    // "Touch your key now" with Cancel. Cancel stops waiting here; the key gives up on its
    // own timeout and the late result is dropped (the worker owns everything it uses).
    struct Job {
      std::optional<Result<SignatureFile>> result;
      std::atomic<bool> done{false};
    };
    auto job = std::make_shared<Job>();
    std::thread worker([job, proposal = *ws.proposal, match, pin, signer, now = session_.now()] {
      job->result = app::sign_with_fido2(proposal, match, pin.get(), signer, now);
      job->done = true;
    });
    QProgressDialog touch(tr("Touch your key now."), tr("Cancel"), 0, 0, this);
    touch.setWindowTitle(tr("Security key"));
    touch.setMinimumDuration(0);
    touch.show();
    touch_prompt_shown_ = true;
    QEventLoop loop;
    QTimer poll;
    connect(&poll, &QTimer::timeout, &loop, [&] {
      if (job->done || touch.wasCanceled()) loop.quit();
    });
    poll.start(30);
    loop.exec();
    touch.close();
    if (!job->done) {
      worker.detach();
      status_->setText(tr("Cancelled. Nothing was written."));
      return false;
    }
    worker.join();
    Result<SignatureFile> r = std::move(*job->result);
    if (r.ok()) return finish(*r, out_path);
    if (r.error().code == Errc::kWrongPin && r.error().retries > 0) {
      retries = r.error().retries;
      continue;
    }
    show_error(this, tr("Could not sign"), r.error());
    return false;
  }
  return false;
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
  return finish(*sig, out_path);
}

bool SignView::finish(const SignatureFile& signature, const QString& out_path) {
  const SignatureFile* sig = &signature;
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
