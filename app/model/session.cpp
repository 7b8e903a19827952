#include "app/model/session.h"

namespace countersign::app {

Result<std::string> Session::open(const std::string& path) {
  auto r = ws_.open(path);
  if (r.ok()) emit changed();
  return r;
}

}  // namespace countersign::app
