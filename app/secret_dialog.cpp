#include "app/secret_dialog.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QVBoxLayout>

#include <sodium.h>

namespace countersign::app {

SecretDialog::SecretDialog(const QString& title, const QString& prompt, int retries_left, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(title);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(new QLabel(prompt, this));
  if (retries_left >= 0)
    layout->addWidget(new QLabel(tr("%n tries left before it locks.", "", retries_left), this));
  edit_ = new QLineEdit(this);
  edit_->setEchoMode(QLineEdit::Password);
  edit_->setInputMethodHints(Qt::ImhHiddenText | Qt::ImhSensitiveData | Qt::ImhNoPredictiveText);
  layout->addWidget(edit_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
}

SecretBytes SecretDialog::take() {
  QString text = edit_->text();
  QByteArray utf8 = text.toUtf8();
  SecretBytes secret = SecretBytes::copy_of(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(utf8.constData()), static_cast<std::size_t>(utf8.size())));
  sodium_memzero(utf8.data(), static_cast<std::size_t>(utf8.size()));
  // `text` shares its buffer with the line edit's own (implicit sharing): wipe it in place
  // through constData() so the line edit's copy is wiped too (data() would detach first and
  // wipe only a fresh copy). Only a heap buffer may be written: text set from a literal
  // (tests) or an empty text points at read-only static data.
  if (text.data_ptr().isMutable()) {
    sodium_memzero(const_cast<QChar*>(text.constData()),
                   static_cast<std::size_t>(text.size()) * sizeof(QChar));
  }
  edit_->clear();
  return secret;
}

std::optional<SecretBytes> SecretDialog::ask(QWidget* parent, const QString& title, const QString& prompt,
                                             int retries_left) {
  SecretDialog d(title, prompt, retries_left, parent);
  const bool ok = d.exec() == QDialog::Accepted;
  SecretBytes s = d.take();
  if (!ok || s.empty()) return std::nullopt;
  return s;
}

}  // namespace countersign::app
