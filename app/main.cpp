// countersign-app: review, diff, sign, collect and verify approvals (docs/app.md).
//   countersign-app [FILE...] [--known-manifests DIR] [--attestation-root FILE]...
//                   [--box-log-key FILE [--box-tls-key FILE]] [--nitro-root FILE] [--screenshot-dir DIR]
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
  QCommandLineOption box_log_key(
      QStringLiteral("box-log-key"),
      QStringLiteral("The box's log verifier key (vkey file): Review checks that the box's attestation "
                     "document binds the proposal's box and this key."),
      QStringLiteral("FILE"));
  QCommandLineOption box_tls_key(QStringLiteral("box-tls-key"),
                                 QStringLiteral("The box's API TLS certificate or public key (PEM or DER), "
                                                "also bound by its attestation (needs --box-log-key)."),
                                 QStringLiteral("FILE"));
  QCommandLineOption nitro_root(
      QStringLiteral("nitro-root"),
      QStringLiteral("Check attestation documents against this root (PEM or DER) instead of the pinned AWS "
                     "Nitro Enclaves root: for test enclaves only, it proves nothing about AWS hardware."),
      QStringLiteral("FILE"));
  parser.addOption(known);
  parser.addOption(roots);
  parser.addOption(box_log_key);
  parser.addOption(box_tls_key);
  parser.addOption(nitro_root);
  parser.addOption(shots);
  parser.addPositionalArgument(
      QStringLiteral("FILE"),
      QStringLiteral("Proposal, manifest, bundle, signature, policy, audit log, checkpoint or the box's "
                     "attestation document (CBOR or base64, from countersign box attest)."),
      QStringLiteral("[FILE...]"));
  parser.process(app);

  // A file given for an option that cannot be read: say which, exit 2 (as the CLI does).
  auto refuse = [](const char* option, const std::string& message) {
    std::fprintf(stderr, "countersign-app: %s: %s\n", option, message.c_str());
    return 2;
  };
  // Usage first: nothing is read when the command line cannot be right.
  if (parser.isSet(box_tls_key) && !parser.isSet(box_log_key))
    return refuse("--box-tls-key", "needs --box-log-key: the binding covers the box's log key");

  countersign::app::MainWindow window;
  if (parser.isSet(known)) window.set_known_manifests_dir(parser.value(known));
  if (parser.isSet(roots)) {
    std::vector<std::string> paths;
    for (const QString& p : parser.values(roots)) paths.push_back(p.toStdString());
    if (auto r = window.set_attestation_roots(paths); !r.ok())
      return refuse("--attestation-root", r.error().message);
  }
  if (parser.isSet(box_log_key)) {
    if (auto r = window.set_box_log_key(parser.value(box_log_key).toStdString()); !r.ok())
      return refuse("--box-log-key", r.error().message);
  }
  if (parser.isSet(box_tls_key)) {
    if (auto r = window.set_box_tls_key(parser.value(box_tls_key).toStdString()); !r.ok())
      return refuse("--box-tls-key", r.error().message);
  }
  if (parser.isSet(nitro_root)) {
    if (auto r = window.set_nitro_root(parser.value(nitro_root).toStdString()); !r.ok())
      return refuse("--nitro-root", r.error().message);
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
