// GoogleTest main with a QApplication (widgets need one). Headless unless told otherwise:
// ctest sets QT_QPA_PLATFORM=offscreen, and so does this when it is unset. Settings (recent
// files, window state) go to a directory of this process's own, so tests never touch a
// user's settings and parallel test processes never see each other's.
#include <unistd.h>
#include <QApplication>
#include <QSettings>
#include <QStandardPaths>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (std::getenv("QT_QPA_PLATFORM") == nullptr) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  QStandardPaths::setTestModeEnabled(true);
  const std::string settings_dir =
      ::testing::TempDir() + "countersign-app-settings-" + std::to_string(::getpid());
  QSettings::setDefaultFormat(QSettings::IniFormat);
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, QString::fromStdString(settings_dir));
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Countersign"));
  QApplication::setApplicationName(QStringLiteral("countersign-app-test"));
  const int rc = RUN_ALL_TESTS();
  std::filesystem::remove_all(settings_dir);
  return rc;
}
