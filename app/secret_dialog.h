// A masked entry for a passphrase or PIN. The text is copied into SecretBytes and the
// widget's buffer overwritten as soon as the dialog closes. (Copies Qt makes internally,
// e.g. while painting, are not reachable; in Password mode QLineEdit keeps no undo history.)
#pragma once

#include <optional>

#include <QDialog>
#include <QLineEdit>

#include "core/secret.h"

namespace countersign::app {

class SecretDialog : public QDialog {
  Q_OBJECT

 public:
  // `retries_left` >= 0 adds "N tries left" (PINs).
  SecretDialog(const QString& title, const QString& prompt, int retries_left, QWidget* parent = nullptr);
  // Runs the dialog; nullopt when cancelled or empty.
  static std::optional<SecretBytes> ask(QWidget* parent, const QString& title, const QString& prompt,
                                        int retries_left = -1);

 private:
  SecretBytes take();
  QLineEdit* edit_;
};

}  // namespace countersign::app
