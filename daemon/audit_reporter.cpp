#include "daemon/audit_reporter.h"

#include <cstdio>
#include <string>

namespace countersign::daemon {

void AuditReporter::report(std::string_view event, nlohmann::json fields) {
  auto appended = system_.log_append(event, fields);
  if (!appended.ok()) {
    ++failures_;
    std::fprintf(stderr, "countersignd: cannot log %s: %s\n", std::string(event).c_str(),
                 appended.error().message.c_str());
  }
}

Result<void> AuditReporter::sign_checkpoint() {
  auto size = system_.log_checkpoint();  // the tree size: nobody here needs it
  if (!size.ok()) return std::move(size).error();
  return {};
}

void AuditReporter::sign_checkpoint_or_warn(std::string_view when) {
  auto signed_ = sign_checkpoint();
  if (!signed_.ok()) {
    std::fprintf(stderr, "countersignd: cannot sign a checkpoint %s: %s\n", std::string(when).c_str(),
                 signed_.error().message.c_str());
  }
}

}  // namespace countersign::daemon
