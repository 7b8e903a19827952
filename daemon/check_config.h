// `countersignd --check-config`: checks a box's configuration without starting anything and
// without writing: no Engine, no audit log entry, no directory created, so it runs beside a
// daemon that holds the state (DESIGN.md "Box-side daemon"; docs/daemon.md "Running it").
#pragma once

#include <ostream>

#include "daemon/config.h"
#include "daemon/system_client.h"

namespace countersign::daemon {

// Checks, each reported as one line "ok   WHAT: PATH" or "FAIL WHAT: PATH: why" on `out`:
// the policy chain replays (root policy and system/policy/), the daemon's own directories
// (state_dir/daemon, models/.staging) exist and are writable by this process, the
// credentials files (hf_token_file, s3_credentials_file) are readable by their owner only,
// and the helper's `check` (through `helper`, as the daemon runs it) passes; its failures
// are reported too. `config` must be validated already. Returns the exit status: 0 when
// every check passed, 2 otherwise.
int check_config(const Config& config, SystemClient& helper, std::ostream& out);

}  // namespace countersign::daemon
