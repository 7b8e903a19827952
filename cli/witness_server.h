// `countersign log witness serve`: a witness as a small HTTP service, the C2SP tlog-witness
// "add-checkpoint" endpoint (c2sp.org/tlog-witness) over libmicrohttpd:
//
//   POST /add-checkpoint   body: "old N\n", proof lines, "\n", signed checkpoint
//     200  text/plain            the witness's cosignature line(s)
//     400  bad request           (malformed body, old size above the checkpoint's size)
//     403  no valid signature by a configured log key
//     404  unknown log origin, or another path
//     405  another method
//     409  text/x.tlog.size      "<size of the last checkpoint it cosigned>\n"
//     413  body larger than witness::kMaxRequestSize
//     422  the consistency proof does not verify
//
// Plain HTTP: what it answers is signed, and what it is asked is checked against signatures;
// put it behind a TLS proxy to hide which logs it witnesses. One request at a time (one
// polling thread) on top of Witness's own file lock.
#pragma once

#include <string>

#include "cli/cli.h"
#include "core/witness.h"

namespace countersign::cli {

struct WitnessServeOptions {
  std::string listen;  // "127.0.0.1:8080", "[::1]:8080"; port 0 picks a free one
  unsigned max_connections = 64;
  unsigned connection_timeout_seconds = 15;
};

// Listens, prints "listening on http://HOST:PORT/add-checkpoint" on io.out, serves until
// SIGTERM or SIGINT, then stops cleanly (exit 0). Each request and its outcome is one line
// on io.err; refusals name both sizes and roots. kIo when it cannot listen.
int serve_witness(Io& io, const witness::Witness& w, const WitnessServeOptions& options);

}  // namespace countersign::cli
