// Sign: the open proposal signed with a software key file (passphrase in a masked dialog),
// written as a signature file, and shown as a QR code and one line of text for air-gapped
// transfer; or with a FIDO2 security key that holds a credential of the open policy (PIN in a
// masked dialog with the tries left, "Touch your key now" with Cancel while the key waits).
// PIV cards are signed with the CLI for now.
#pragma once

#include <functional>
#include <optional>

#include <QComboBox>
#include <QLineEdit>
#include <QPlainTextEdit>

#include "app/model/hardware_signers.h"
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

  // Looks for FIDO2 keys holding the policy's credentials (`device` empty: every connected
  // key). Returns how many credentials were found.
  int find_fido2(const QString& device);
  // Signs with the index-th key found and writes the signature to `out_path`.
  bool sign_with_fido2(int index, const QString& out_path);
  // PIN source for FIDO2 (a masked dialog unless a test replaced it); `retries` < 0: unknown.
  std::function<std::optional<SecretBytes>(const QString& prompt, int retries)> pin_source;
  bool touch_prompt_shown() const { return touch_prompt_shown_; }

  QString one_line() const { return line_->text(); }
  const QImage& qr() const { return qr_image_; }
  QLabel* status() const { return status_; }

 private:
  void choose_and_sign();
  bool finish(const SignatureFile& sig, const QString& out_path);
  QString ask_out_path(const QString& who);
  std::vector<Fido2Match> fido2_;
  QLineEdit* device_;
  QComboBox* fido2_list_;
  bool touch_prompt_shown_ = false;
  QLabel* what_;
  QLabel* holder_;
  QLineEdit* signer_;
  QLabel* status_;
  QLabel* qr_;
  QImage qr_image_;
  QLineEdit* line_;
};

}  // namespace countersign::app
