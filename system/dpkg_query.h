// The box's installed Debian packages, read from a dpkg database with dpkg-query (never a
// parser of /var/lib/dpkg/status of our own). Used by the helper (before and after dpkg, to
// judge a plan) and by the daemon (GET /v1/packages, what a planner reads): reading the
// database needs no privilege, and both read it the same way.
#pragma once

#include <string>

#include "core/box_packages.h"
#include "core/result.h"
#include "core/timeutil.h"
#include "system/command.h"

namespace countersign::daemon {

// dpkg-query --admindir=ADMINDIR --show (dpkg_query_args) through `run`. kIo when dpkg-query
// fails (its first line of stderr, escaped), kInvalidDocument when its output does not read.
Result<BoxPackages> query_box_packages(const CommandRunner& run, const std::string& admindir, std::string box,
                                       UnixTime time);

}  // namespace countersign::daemon
