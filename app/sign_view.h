// Sign: the open proposal signed, written as a signature file, and shown as a QR code and
// one line of text for air-gapped transfer. Signers:
//   - a software key file (passphrase in a masked dialog);
//   - a FIDO2 security key that holds a credential of the open policy (PIN in a masked
//     dialog with the tries left, "Touch your key now" with Cancel while the key waits;
//     Cancel sends CTAPHID_CANCEL, so the key stops waiting and signs nothing);
//   - a PIV card (YubiKey PIV or any PIV card, over PC/SC) with a slot holding a key of the
//     open policy (PIN in a masked dialog with the card's tries left; "Touch your key now"
//     when the card may wait for a touch). A card cannot be told to stop waiting: Cancel
//     then drops the late result and nothing is written.
// Device requests run off the GUI thread; the window stays responsive.
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

  // Looks for PIV cards with a slot holding a key of the policy (`reader` empty: every
  // reader). Returns how many slots were found; the status line names the cards that hold
  // no key of the policy.
  int find_piv(const QString& reader);
  // Signs with the index-th slot found and writes the signature to `out_path`. The PIN
  // comes from pin_source (the card's tries left shown; asked again after a wrong PIN).
  bool sign_with_piv(int index, const QString& out_path);

  QString one_line() const { return line_->text(); }
  const QImage& qr() const { return qr_image_; }
  QLabel* status() const { return status_; }

 private:
  void choose_and_sign();
  bool finish(const SignatureFile& sig, const QString& out_path);
  QString ask_out_path(const QString& who);
  // How a device request run off the GUI thread ended.
  struct DeviceWait {
    std::optional<Result<SignatureFile>> result;  // empty: given up on after Cancel
    bool cancelled = false;                       // the user pressed Cancel
  };
  // Runs `work` on a thread of its own while a dialog shows `text` with Cancel. On Cancel,
  // calls `cancel` every few hundred milliseconds and waits a few seconds more for `work`
  // to return (without `cancel`: does not wait). A worker still running then is left to
  // finish on its own (it owns what it uses) and its result dropped.
  DeviceWait run_device_request(const QString& title, const QString& text,
                                std::function<Result<SignatureFile>()> work, std::function<void()> cancel);
  // One signing with a FIDO2 key or a PIV card: the PIN (when pin_prompt is set) from
  // pin_source with the tries left, the request off the GUI thread, the PIN asked again
  // after a wrong one; then the signature written (finish) or the reason shown.
  struct DeviceSigning {
    QString pin_prompt;    // empty: no PIN
    int retries = -1;      // tries left shown with the first prompt; -1 unknown
    int max_attempts = 3;  // PIN prompts at most
    QString title;
    QString wait_text;         // shown while the device works, unless `touch`
    bool touch = false;        // show "Touch your key now."
    bool cancellable = false;  // Cancel reaches the device (FIDO2: fido2::Canceller)
    std::function<Result<SignatureFile>(const SecretBytes* pin, std::shared_ptr<fido2::Canceller> cancel)>
        sign;
  };
  bool sign_with_device(const DeviceSigning& d, const QString& out_path);
  // The signer hint written into the signature: the "Your name" field, else the approver.
  std::optional<std::string> signer_hint(const std::string& approver) const;
  std::vector<Fido2Match> fido2_;
  QLineEdit* device_;
  QComboBox* fido2_list_;
  std::vector<PivMatch> piv_;
  QLineEdit* reader_;
  QComboBox* piv_list_;
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
