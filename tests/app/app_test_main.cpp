// GoogleTest main with a QApplication (widgets need one). Headless unless told otherwise:
// ctest sets QT_QPA_PLATFORM=offscreen, and so does this when it is unset. Settings go to
// Qt's test location so tests never touch a user's recent files.
#include <QApplication>
#include <QStandardPaths>
#include <cstdlib>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (std::getenv("QT_QPA_PLATFORM") == nullptr) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Countersign"));
  QApplication::setApplicationName(QStringLiteral("countersign-app-test"));
  return RUN_ALL_TESTS();
}
