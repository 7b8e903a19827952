#include "app/sign_view.h"

#include <QApplication>
#include <QClipboard>
#include <QElapsedTimer>
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
#include "smartcard/piv/piv_card.h"

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
  // A wide field and its button on one line.
  auto row = [](QWidget* wide, QWidget* button) {
    auto* r = new QHBoxLayout();
    r->addWidget(wide, 1);
    r->addWidget(button);
    return r;
  };
  device_ = new QLineEdit(signers);
  device_->setPlaceholderText(tr("empty: every connected key; or a hidraw path, or unix:PATH"));
  auto* find = new QPushButton(tr("Find security keys"), signers);
  form->addRow(tr("FIDO2 security key:"), row(device_, find));
  fido2_list_ = new QComboBox(signers);
  auto* hw_sign = new QPushButton(tr("Sign with security key…"), signers);
  form->addRow(QString(), row(fido2_list_, hw_sign));
  reader_ = new QLineEdit(signers);
  reader_->setPlaceholderText(tr("empty: every smartcard reader; or a reader's name"));
  auto* find_cards = new QPushButton(tr("Find cards"), signers);
  form->addRow(tr("PIV card:"), row(reader_, find_cards));
  piv_list_ = new QComboBox(signers);
  auto* piv_sign = new QPushButton(tr("Sign with card…"), signers);
  form->addRow(QString(), row(piv_list_, piv_sign));
  layout->addWidget(signers);
  connect(find_cards, &QPushButton::clicked, this, [this] { find_piv(reader_->text()); });
  connect(piv_sign, &QPushButton::clicked, this, [this] {
    if (piv_list_->currentIndex() < 0) {
      show_error(this, tr("No card"),
                 Error(Errc::kNoDevice, "find a card that holds a policy key first (Find cards)"));
      return;
    }
    const QString out = ask_out_path(q(piv_[static_cast<std::size_t>(piv_list_->currentIndex())].approver));
    if (!out.isEmpty()) sign_with_piv(piv_list_->currentIndex(), out);
  });
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
    return SecretDialog::ask(this, tr("PIN"), prompt, retries);
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

SignView::DeviceWait SignView::run_device_request(const QString& title, const QString& text,
                                                  std::function<Result<SignatureFile>()> work,
                                                  std::function<void()> cancel) {
  struct Job {
    std::optional<Result<SignatureFile>> result;
    std::atomic<bool> done{false};
  };
  auto job = std::make_shared<Job>();
  std::thread worker([job, work = std::move(work)] {
    job->result = work();
    job->done = true;
  });
  QProgressDialog dialog(text, tr("Cancel"), 0, 0, this);
  dialog.setWindowTitle(title);
  dialog.setMinimumDuration(0);
  dialog.show();
  // After Cancel: `cancel` again every 300 ms (a FIDO2 key ignores it until it waits for
  // the user, smartcard/fido2_device.h Canceller), and the worker waited for at most 5 s.
  constexpr qint64 kResendMs = 300, kGraceMs = 5000;
  QElapsedTimer since_cancel;
  qint64 last_sent = -kResendMs;
  QEventLoop loop;
  QTimer poll;
  connect(&poll, &QTimer::timeout, &loop, [&] {
    if (job->done) return loop.quit();
    if (!dialog.wasCanceled()) return;
    if (!since_cancel.isValid()) since_cancel.start();
    if (cancel && since_cancel.elapsed() - last_sent >= kResendMs) {
      last_sent = since_cancel.elapsed();
      cancel();
    }
    // Nothing to tell the device (a PIV card): stop waiting for it at once.
    if (!cancel || since_cancel.elapsed() > kGraceMs) loop.quit();
  });
  poll.start(30);
  loop.exec();
  DeviceWait out;
  out.cancelled = dialog.wasCanceled();  // before close(): closing a QProgressDialog cancels it
  dialog.close();
  if (!job->done) {
    worker.detach();
    return out;
  }
  worker.join();
  out.result = std::move(*job->result);
  return out;
}

bool SignView::sign_with_device(const DeviceSigning& d, const QString& out_path) {
  int retries = d.retries;
  for (int attempt = 0; attempt < d.max_attempts; ++attempt) {
    std::shared_ptr<SecretBytes> pin;
    if (!d.pin_prompt.isEmpty()) {
      auto entered = pin_source(d.pin_prompt, retries);
      if (!entered) return false;
      pin = std::make_shared<SecretBytes>(std::move(*entered));
    }
    auto canceller = d.cancellable ? std::make_shared<fido2::Canceller>() : nullptr;
    std::function<void()> cancel;
    if (canceller) cancel = [canceller] { canceller->cancel(); };
    touch_prompt_shown_ = touch_prompt_shown_ || d.touch;
    DeviceWait w = run_device_request(
        d.title, d.touch ? tr("Touch your key now.") : d.wait_text,
        [sign = d.sign, pin, canceller] { return sign(pin.get(), canceller); }, std::move(cancel));
    pin.reset();  // the worker holds the last reference while it runs
    if (w.cancelled) {
      // Whatever came back (even a signature made at the last moment) is dropped.
      const bool stopped = w.result && !w.result->ok() && w.result->error().code == Errc::kCancelled;
      status_->setText(stopped ? tr("Cancelled: the security key stopped waiting. Nothing was written.")
                       : d.cancellable ? tr("Cancelled. Nothing was written; the security key may keep "
                                            "waiting for a touch until it times out.")
                                       : tr("Cancelled. Nothing was written."));
      return false;
    }
    Result<SignatureFile> r = std::move(*w.result);
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

std::optional<std::string> SignView::signer_hint(const std::string& approver) const {
  return signer_->text().isEmpty() ? approver : signer_->text().toStdString();
}

bool SignView::sign_with_fido2(int index, const QString& out_path) {
  const Workspace& ws = session_.ws();
  if (!ws.proposal || index < 0 || static_cast<std::size_t>(index) >= fido2_.size()) return false;
  const Fido2Match match = fido2_[static_cast<std::size_t>(index)];
  DeviceSigning d;
  if (match.needs_pin()) d.pin_prompt = tr("PIN of the security key holding %1's key").arg(q(match.approver));
  d.title = tr("Security key");
  d.touch = true;
  d.cancellable = true;
  d.sign = [proposal = *ws.proposal, match, signer = signer_hint(match.approver), now = session_.now()](
               const SecretBytes* pin, std::shared_ptr<fido2::Canceller> cancel) {
    return app::sign_with_fido2(proposal, match, pin, signer, now, std::move(cancel));
  };
  return sign_with_device(d, out_path);
}

int SignView::find_piv(const QString& reader) {
  piv_.clear();
  piv_list_->clear();
  const Workspace& ws = session_.ws();
  if (!ws.policy) {
    show_error(this, tr("No policy open"),
               Error(Errc::kInvalidArgument, "open the policy: it names the keys"));
    return 0;
  }
  auto found = find_piv_signers(*ws.policy, reader.toStdString(), ws.attestation_roots);
  if (!found.ok()) {
    show_error(this, tr("Could not look for smartcards"), found.error());
    return 0;
  }
  piv_ = std::move(found->matches);
  for (const auto& m : piv_) {
    piv_list_->addItem(tr("%1's key %2 in slot %3 of %4 (%5)")
                           .arg(q(m.approver), q(m.key.key.id().substr(0, 16)), q(piv::slot_name(m.slot)),
                                q(m.card), q(m.reader)));
  }
  if (!piv_.empty()) {
    status_->setText(tr("%n PIV card key(s) of this policy found.", "", static_cast<int>(piv_.size())));
  } else if (found->other_cards.empty()) {
    status_->setText(tr("No smartcard found: insert the card (or plug in the YubiKey) and look again."));
  } else {
    QStringList seen;
    for (const auto& c : found->other_cards) seen << q(c);
    status_->setText(
        tr("No card holds a key of this policy. Cards seen:\n%1").arg(seen.join(QStringLiteral("\n"))));
  }
  return static_cast<int>(piv_.size());
}

bool SignView::sign_with_piv(int index, const QString& out_path) {
  const Workspace& ws = session_.ws();
  if (!ws.proposal || index < 0 || static_cast<std::size_t>(index) >= piv_.size()) return false;
  const PivMatch match = piv_[static_cast<std::size_t>(index)];
  DeviceSigning d;
  d.pin_prompt = tr("PIN of the card holding %1's key (%2, slot %3)")
                     .arg(q(match.approver), q(match.card), q(piv::slot_name(match.slot)));
  d.retries = match.pin_retries;
  // The card counts wrong PINs and locks at 0 (3 tries on a YubiKey): the loop ends there.
  d.max_attempts = 16;
  d.title = tr("Smartcard");
  d.touch = match.may_need_touch;
  d.wait_text = tr("Signing with the card in %1…").arg(q(match.reader));
  d.sign = [proposal = *ws.proposal, match, signer = signer_hint(match.approver), now = session_.now()](
               const SecretBytes* pin, const std::shared_ptr<fido2::Canceller>&) -> Result<SignatureFile> {
    if (pin == nullptr) return Error(Errc::kInvalidArgument, "no PIN given");
    return app::sign_with_piv(proposal, match, *pin, signer, now);
  };
  return sign_with_device(d, out_path);
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
