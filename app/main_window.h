// The main window: one tab per view (Review, Diff, Sign, Collect, Verify, Policy, Log),
// File and View menus, recent files, drag and drop, saved window state.
#pragma once

#include <QMainWindow>
#include <QStringList>
#include <QTabWidget>

#include "app/model/session.h"

namespace countersign::app {

class ReviewView;
class DiffView;
class SignView;
class CollectView;
class VerifyView;
class PolicyView;
class LogView;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);

  // Opens each file (errors in dialogs) and shows the view that fits the last one.
  // Returns how many opened.
  int open_files(const QStringList& paths);
  // Sets the folder searched for the proposal's previous manifest (saved in settings).
  void set_known_manifests_dir(const QString& dir);
  // Also trusts the certificates in `paths` (PEM or DER) as hardware attestation roots, on
  // top of the pinned vendor roots, in every view (not saved: given per run, like the
  // CLI's --attestation-root). Errors: a file's read or parse error, naming it; the roots
  // are then unchanged.
  Result<void> set_attestation_roots(const std::vector<std::string>& paths);
  // What the box's attestation document is judged with in Review (box_attestation.h): the
  // box's log key (a vkey file), its API's TLS certificate or public key, and a test root
  // to check the chain against instead of the pinned AWS Nitro Enclaves root. Given per run
  // (--box-log-key, --box-tls-key, --nitro-root), never saved. Errors name the file; nothing
  // changes then.
  Result<void> set_box_log_key(const std::string& path);
  Result<void> set_box_tls_key(const std::string& path);
  Result<void> set_nitro_root(const std::string& path);
  // Grabs each view into DIR/NN-name.png. False when a file cannot be written.
  bool save_screenshots(const QString& dir);

  Session& session() { return session_; }
  QTabWidget* tabs() const { return tabs_; }
  ReviewView* review() const { return review_; }
  DiffView* diff() const { return diff_; }
  SignView* sign() const { return sign_; }
  CollectView* collect() const { return collect_; }
  VerifyView* verify() const { return verify_; }
  PolicyView* policy() const { return policy_; }
  LogView* log() const { return log_; }
  QStringList recent_files() const;

 protected:
  void dragEnterEvent(class QDragEnterEvent* event) override;
  void dropEvent(class QDropEvent* event) override;
  void closeEvent(class QCloseEvent* event) override;

 private:
  void build_menus();
  void refresh_all();
  void remember(const QString& path);
  void rebuild_recent_menu();
  void open_dialog();
  void open_previous_dialog();
  void choose_known_dir_dialog();
  void show_shortcuts();

  Session session_;
  QTabWidget* tabs_;
  ReviewView* review_;
  DiffView* diff_;
  SignView* sign_;
  CollectView* collect_;
  VerifyView* verify_;
  PolicyView* policy_;
  LogView* log_;
  class QMenu* recent_menu_ = nullptr;
};

}  // namespace countersign::app
