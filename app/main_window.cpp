#include "app/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>

#include "app/collect_view.h"
#include "app/diff_view.h"
#include "app/log_view.h"
#include "app/policy_view.h"
#include "app/review_view.h"
#include "app/sign_view.h"
#include "app/ui_util.h"
#include "app/verify_view.h"

namespace countersign::app {

namespace {

constexpr int kMaxRecent = 10;

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("Countersign"));
  setAcceptDrops(true);
  tabs_ = new QTabWidget(this);
  tabs_->setDocumentMode(true);
  review_ = new ReviewView(session_, tabs_);
  diff_ = new DiffView(session_, tabs_);
  sign_ = new SignView(session_, tabs_);
  collect_ = new CollectView(session_, tabs_);
  verify_ = new VerifyView(session_, tabs_);
  policy_ = new PolicyView(session_, tabs_);
  log_ = new LogView(session_, tabs_);
  tabs_->addTab(review_, tr("&Review"));
  tabs_->addTab(diff_, tr("&Diff"));
  tabs_->addTab(sign_, tr("&Sign"));
  tabs_->addTab(collect_, tr("&Collect"));
  tabs_->addTab(verify_, tr("&Verify"));
  tabs_->addTab(policy_, tr("&Policy"));
  tabs_->addTab(log_, tr("&Log"));
  setCentralWidget(tabs_);
  build_menus();
  connect(&session_, &Session::changed, this, &MainWindow::refresh_all);
  connect(diff_, &DiffView::open_previous_requested, this, &MainWindow::open_previous_dialog);
  connect(diff_, &DiffView::choose_folder_requested, this, &MainWindow::choose_known_dir_dialog);
  connect(collect_, &CollectView::add_files_requested, this, &MainWindow::open_dialog);

  QSettings settings;
  session_.ws().known_manifests_dir =
      settings.value(QStringLiteral("known_manifests_dir")).toString().toStdString();
  if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray())) resize(1180, 800);
  restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
  refresh_all();
  statusBar()->showMessage(
      tr("Open a proposal, bundle, signature, policy, audit log or box attestation "
         "(Ctrl+O), or drop files here."));
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open…"), this, &MainWindow::open_dialog);
  open->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  rebuild_recent_menu();
  file->addAction(tr("Open &previous manifest…"), this, &MainWindow::open_previous_dialog)
      ->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
  file->addAction(tr("&Known manifests folder…"), this, &MainWindow::choose_known_dir_dialog);
  file->addSeparator();
  file->addAction(tr("&Export bundle…"), this,
                  [this] {
                    tabs_->setCurrentWidget(collect_);
                    if (collect_->export_button()->isEnabled()) collect_->export_button()->click();
                  })
      ->setShortcut(QKeySequence(tr("Ctrl+E")));
  file->addSeparator();
  file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < tabs_->count(); ++i) {
    QString name = tabs_->tabText(i);
    name.remove(QLatin1Char('&'));
    view->addAction(name, this, [this, i] { tabs_->setCurrentIndex(i); })
        ->setShortcut(QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)));
  }
  view->addSeparator();
  view->addAction(tr("&Find in table"), this,
                  [this] {
                    if (tabs_->currentWidget() == review_) review_->filter()->setFocus();
                  })
      ->setShortcut(QKeySequence::Find);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Keyboard shortcuts"), this, &MainWindow::show_shortcuts)
      ->setShortcut(QKeySequence::HelpContents);
}

void MainWindow::show_shortcuts() {
  QMessageBox::information(this, tr("Keyboard shortcuts"),
                           tr("Ctrl+O  open files\nCtrl+Shift+O  open the previous manifest\n"
                              "Ctrl+1 … Ctrl+7  Review, Diff, Sign, Collect, Verify, Policy, Log\n"
                              "Ctrl+F  filter the file table\nCtrl+E  export the bundle\n"
                              "Ctrl+Shift+S  sign with a key file\nCtrl+Shift+V  paste a signature\n"
                              "Tab / Shift+Tab  move between fields; arrows move in tables\nCtrl+Q  quit"));
}

void MainWindow::refresh_all() {
  for (int i = 0; i < tabs_->count(); ++i) static_cast<View*>(tabs_->widget(i))->refresh();
  const Workspace& ws = session_.ws();
  if (ws.proposal) {
    setWindowTitle(tr("Countersign — %1 %2")
                       .arg(q(std::string(action_name(ws.proposal->action()))),
                            ws.manifest ? q(ws.manifest->name()) : QString()));
  }
}

int MainWindow::open_files(const QStringList& paths) {
  int opened = 0;
  std::optional<DocKind> last;
  std::vector<std::string> files;
  for (const QString& path : paths) files.push_back(path.toStdString());
  std::vector<Result<Document>> docs = load_documents(files);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const QString& path = paths[static_cast<qsizetype>(i)];
    auto& doc = docs[i];
    if (!doc.ok()) {
      show_error(this, tr("Could not open %1").arg(QFileInfo(path).fileName()), doc.error());
      continue;
    }
    const DocKind kind = doc->kind;
    auto r = session_.ws().add(std::move(doc).value());
    if (!r.ok()) {
      show_error(this, tr("Could not use %1").arg(QFileInfo(path).fileName()), r.error());
      continue;
    }
    statusBar()->showMessage(q(*r));
    remember(path);
    last = kind;
    ++opened;
  }
  Workspace& ws = session_.ws();
  if (ws.proposal && ws.proposal->previous() && !ws.previous && !ws.known_manifests_dir.empty()) {
    auto found = ws.find_previous();
    if (found.ok()) statusBar()->showMessage(tr("Comparing against %1").arg(q(*found)));
  }
  session_.notify();
  if (last) {
    switch (*last) {
      case DocKind::kSignature:
        tabs_->setCurrentWidget(collect_);
        break;
      case DocKind::kPolicy:
        tabs_->setCurrentWidget(ws.proposal ? static_cast<QWidget*>(collect_) : policy_);
        break;
      case DocKind::kAuditExport:
      case DocKind::kCheckpoint:
        tabs_->setCurrentWidget(log_);
        break;
      default:
        tabs_->setCurrentWidget(review_);
        break;
    }
  }
  return opened;
}

void MainWindow::open_dialog() {
  const QStringList paths = QFileDialog::getOpenFileNames(
      this, tr("Open"), QString(),
      tr("Countersign files (*.json *.jsonl *.txt *.note *.cbor *.b64);;All files (*)"));
  if (!paths.isEmpty()) open_files(paths);
}

void MainWindow::open_previous_dialog() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Previous manifest"), QString(), tr("Manifest (*.json)"));
  if (path.isEmpty()) return;
  auto r = session_.ws().open_previous(path.toStdString());
  if (!r.ok()) {
    show_error(this, tr("Could not open the previous manifest"), r.error());
    return;
  }
  statusBar()->showMessage(q(*r));
  session_.notify();
  tabs_->setCurrentWidget(diff_);
}

Result<void> MainWindow::set_attestation_roots(const std::vector<std::string>& paths) {
  CS_TRY(session_.ws().attestation_roots, attestation::Roots::pinned_plus(paths));
  session_.notify();
  return {};
}

Result<void> MainWindow::set_box_log_key(const std::string& path) {
  CS_TRY(session_.ws().nitro.log_key_spki, read_box_log_key(path));
  session_.notify();
  return {};
}

Result<void> MainWindow::set_box_tls_key(const std::string& path) {
  CS_TRY(session_.ws().nitro.tls_key_spki, read_box_tls_key(path));
  session_.notify();
  return {};
}

Result<void> MainWindow::set_nitro_root(const std::string& path) {
  CS_TRY(session_.ws().nitro.roots, read_nitro_root(path));
  session_.ws().nitro.test_root = path;
  session_.notify();
  return {};
}

void MainWindow::set_known_manifests_dir(const QString& dir) {
  session_.ws().known_manifests_dir = dir.toStdString();
  QSettings().setValue(QStringLiteral("known_manifests_dir"), dir);
  if (session_.ws().proposal && session_.ws().proposal->previous()) {
    auto r = session_.ws().find_previous();
    if (r.ok()) {
      statusBar()->showMessage(tr("Comparing against %1").arg(q(*r)));
    } else {
      statusBar()->showMessage(q(r.error().message));
    }
  }
  session_.notify();
}

void MainWindow::choose_known_dir_dialog() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder of known manifests"),
                                                        q(session_.ws().known_manifests_dir));
  if (!dir.isEmpty()) set_known_manifests_dir(dir);
}

QStringList MainWindow::recent_files() const {
  return QSettings().value(QStringLiteral("recent")).toStringList();
}

void MainWindow::remember(const QString& path) {
  QStringList recent = recent_files();
  const QString abs = QFileInfo(path).absoluteFilePath();
  recent.removeAll(abs);
  recent.prepend(abs);
  while (recent.size() > kMaxRecent) recent.removeLast();
  QSettings().setValue(QStringLiteral("recent"), recent);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const QStringList recent = recent_files();
  for (const QString& path : recent) {
    recent_menu_->addAction(
        QFileInfo(path).fileName() + QStringLiteral("  —  ") + QFileInfo(path).absolutePath(), this,
        [this, path] { open_files({path}); });
  }
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls()) {
    if (url.isLocalFile()) paths << url.toLocalFile();
  }
  if (paths.isEmpty()) return;
  event->acceptProposedAction();
  open_files(paths);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/state"), saveState());
  QMainWindow::closeEvent(event);
}

bool MainWindow::save_screenshots(const QString& dir) {
  if (!QDir().mkpath(dir)) return false;
  bool ok = true;
  for (int i = 0; i < tabs_->count(); ++i) {
    tabs_->setCurrentIndex(i);
    QApplication::processEvents();
    QString name = tabs_->tabText(i).remove(QLatin1Char('&')).toLower();
    const QString path =
        QStringLiteral("%1/%2-%3.png").arg(dir).arg(i + 1, 2, 10, QLatin1Char('0')).arg(name);
    if (!grab().save(path)) ok = false;
  }
  return ok;
}

}  // namespace countersign::app
