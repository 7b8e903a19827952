// Sign: the open proposal signed with a software key file (passphrase in a masked dialog),
// written as a signature file, and shown as a QR code and one line of text for air-gapped
// transfer. Hardware keys (FIDO2, PIV) are signed with the CLI for now.
#pragma once

#include <functional>
#include <optional>

#include <QLineEdit>
#include <QPlainTextEdit>

#include "app/view.h"
#include "core/secret.h"

namespace countersign::app {

class SignView : public View {
  Q_OBJECT

 public:
  SignView(Session& session, QWidget* parent = nullptr);
  void refresh() override;

  // Signs with `key_path` and writes the signature to `out_path`; adds it to the session.
  // The passphrase comes from passphrase_source (a masked dialog unless a test replaced it).
  bool sign_with_key_file(const QString& key_path, const QString& out_path);
  std::function<std::optional<SecretBytes>(const QString& prompt)> passphrase_source;

  QString one_line() const { return line_->text(); }
  const QImage& qr() const { return qr_image_; }
  QLabel* status() const { return status_; }

 private:
  void choose_and_sign();
  QLabel* what_;
  QLabel* holder_;
  QLineEdit* signer_;
  QLabel* status_;
  QLabel* qr_;
  QImage qr_image_;
  QLineEdit* line_;
};

}  // namespace countersign::app
