#include "daemon/job.h"

namespace countersign::daemon {

std::string_view job_phase_name(JobPhase phase) {
  switch (phase) {
    case JobPhase::kQueued:
      return "queued";
    case JobPhase::kStarting:
      return "starting";
    case JobPhase::kSnapshot:
      return "snapshot";
    case JobPhase::kFetching:
      return "fetching";
    case JobPhase::kInstalling:
      return "installing";
    case JobPhase::kRemoving:
      return "removing";
    case JobPhase::kRestoring:
      return "restoring";
    case JobPhase::kRotating:
      return "rotating";
    case JobPhase::kDone:
      return "done";
    case JobPhase::kFailed:
      return "failed";
    case JobPhase::kVetoed:
      return "vetoed";
  }
  return "failed";
}

}  // namespace countersign::daemon
