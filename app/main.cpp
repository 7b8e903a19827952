// countersign-app: review, diff, sign, collect and verify approvals (docs/app.md).
//   countersign-app [FILE...] [--known-manifests DIR] [--attestation-root FILE]... [--screenshot-dir DIR]
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>
#include <string>
#include <vector>

#include "app/main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Countersign"));
  QApplication::setApplicationName(QStringLiteral("countersign-app"));
  QApplication::setApplicationVersion(QStringLiteral(COUNTERSIGN_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(
      QStringLiteral("Review, diff, sign, collect and verify Countersign approvals."));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption known(QStringLiteral("known-manifests"),
                           QStringLiteral("Folder searched for the manifest a proposal replaces."),
                           QStringLiteral("DIR"));
  QCommandLineOption shots(
      QStringLiteral("screenshot-dir"),
      QStringLiteral("Save a PNG of each view into DIR and exit (1 if a file cannot be written)."),
      QStringLiteral("DIR"));
  QCommandLineOption roots(
      QStringLiteral("attestation-root"),
      QStringLiteral("Also trust this hardware attestation root (PEM or DER; repeatable), as the CLI's "
                     "--attestation-root: Yubico's FIDO and PIV roots are built in."),
      QStringLiteral("FILE"));
  parser.addOption(known);
  parser.addOption(roots);
  parser.addOption(shots);
  parser.addPositionalArgument(
      QStringLiteral("FILE"),
      QStringLiteral("Proposal, manifest, bundle, signature, policy, audit log or checkpoint."),
      QStringLiteral("[FILE...]"));
  parser.process(app);

  countersign::app::MainWindow window;
  if (parser.isSet(known)) window.set_known_manifests_dir(parser.value(known));
  if (parser.isSet(roots)) {
    std::vector<std::string> paths;
    for (const QString& p : parser.values(roots)) paths.push_back(p.toStdString());
    auto set = window.set_attestation_roots(paths);
    if (!set.ok()) {
      std::fprintf(stderr, "countersign-app: --attestation-root: %s\n", set.error().message.c_str());
      return 2;
    }
  }
  const QStringList files = parser.positionalArguments();
  if (parser.isSet(shots)) {
    window.resize(1180, 800);
    window.show();
    const int opened = window.open_files(files);
    if (opened != files.size()) return 1;
    int rc = 0;
    QTimer::singleShot(0, &window, [&] {
      rc = window.save_screenshots(parser.value(shots)) ? 0 : 1;
      app.quit();
    });
    app.exec();
    return rc;
  }
  window.show();
  if (!files.isEmpty()) window.open_files(files);
  return app.exec();
}
