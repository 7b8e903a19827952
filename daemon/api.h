// countersignd's HTTP API (JSON over HTTP/1.1; docs/daemon.md lists every endpoint):
//
//   GET  /v1/status                        box, policy in force, queue, running job
//   POST /v1/bundles                       a whole bundle → 202 job queued | 403/409/422 rejected
//   POST /v1/proposals                     {"proposal", "manifest"} → 201 pending, who is missing
//   GET  /v1/proposals/<id>                pending state
//   POST /v1/proposals/<id>/signatures     one signature file; the box acts when the rule is met
//   GET  /v1/jobs, /v1/jobs/<id>           job state, progress (bytes per file, current source)
//   GET  /v1/models                        installed models with manifest and proposal
//   GET  /v1/policy                        the policy in force
//   GET  /v1/snapshots                     snapshots as snapshot documents (for restore-snapshot)
//   GET  /v1/log/checkpoint                newest signed checkpoint (text)
//   GET  /v1/log/entries?start=N&end=M     entries as JSON lines (the `log export` format)
//   GET  /v1/log/inclusion?index=N[&size=S]     inclusion proof document
//   GET  /v1/log/consistency?old=A&new=B        consistency proof document
//
// Errors: {"error": "<code>", "reason": "<what is wrong>"} with a 4xx/5xx status.
#pragma once

#include "daemon/engine.h"
#include "daemon/http_server.h"

namespace countersign::daemon {

Reply route(Engine& engine, const HttpRequest& request);

}  // namespace countersign::daemon
