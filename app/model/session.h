// Session: the Workspace of one window, the clock the views judge times by, and a signal
// when anything in the workspace changed. Views read session.ws() in their refresh().
#pragma once

#include <QObject>

#include "app/model/workspace.h"
#include "core/timeutil.h"

namespace countersign::app {

class Session : public QObject {
  Q_OBJECT

 public:
  explicit Session(QObject* parent = nullptr) : QObject(parent) {}

  Workspace& ws() { return ws_; }
  const Workspace& ws() const { return ws_; }
  UnixTime now() const { return clock_(); }
  void set_clock(Clock clock) { clock_ = std::move(clock); }

  // Workspace::open, and changed() when it worked.
  Result<std::string> open(const std::string& path);
  // Call after changing ws() directly.
  void notify() { emit changed(); }

 signals:
  void changed();

 private:
  Workspace ws_;
  Clock clock_ = system_now;
};

}  // namespace countersign::app
