// View: one page of the main window. It reads the session's workspace in refresh(), which
// the window calls whenever the workspace changed.
#pragma once

#include <QLabel>
#include <QWidget>

#include "app/model/session.h"

namespace countersign::app {

class View : public QWidget {
  Q_OBJECT

 public:
  View(Session& session, QWidget* parent) : QWidget(parent), session_(session) {}
  virtual void refresh() = 0;

 protected:
  Session& session_;
};

}  // namespace countersign::app
