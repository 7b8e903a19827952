// countersign log witness [serve]: the auditor's witness (core/witness.h, docs/audit-log.md
// "Witnesses"). Offline it takes a checkpoint and a consistency proof file from a USB stick;
// `serve` answers C2SP tlog-witness add-checkpoint requests (cli/witness_server.h). Both
// cosign only a checkpoint that extends the last one they cosigned for that log.
#include <fstream>

#include "cli/cli.h"
#include "cli/load.h"
#include "cli/witness_server.h"
#include "core/checkpoint.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/witness.h"

namespace countersign::cli {

namespace {

struct WitnessArgs {
  std::string checkpoint, proof, state, key, out;
  std::vector<std::string> log_keys;
  bool json = false;
  WitnessServeOptions serve;
};

const char* status_name(witness::Status s) {
  switch (s) {
    case witness::Status::kCosigned:
      return "cosigned";
    case witness::Status::kUnknownLog:
      return "unknown-log";
    case witness::Status::kBadSignature:
      return "bad-signature";
    case witness::Status::kBadRequest:
      return "bad-request";
    case witness::Status::kConflict:
      return "conflict";
    case witness::Status::kBadProof:
      return "bad-proof";
  }
  return "?";
}

nlohmann::json head_json(const std::optional<Checkpoint>& c) {
  if (!c) return nullptr;
  return {{"size", c->size}, {"root", base64_encode(c->root)}};
}

Result<witness::Witness> open_witness(const WitnessArgs& a) {
  for (const auto* opt : {&a.state, &a.key}) {
    if (opt->empty()) return Error(Errc::kInvalidArgument, "--state DIR and --key COSIGNER.key are required");
  }
  if (a.log_keys.empty()) return Error(Errc::kInvalidArgument, "--log-key LOG.pub is required");
  std::vector<note::Verifier> keys;
  for (const auto& k : a.log_keys) {
    CS_TRY(note::Verifier v, load_verifier(k));
    keys.push_back(std::move(v));
  }
  // The cosigner key never leaves a file only its owner can read; never argv.
  CS_TRY(note::Signer signer, load_signer(a.key, true));
  return witness::Witness::open(a.state, std::move(keys), std::move(signer));
}

int witness_offline(Io& io, const WitnessArgs& a) {
  auto w = open_witness(a);
  if (!w.ok()) return report_error(io, w.error(), a.json);
  if (a.checkpoint.empty() && a.proof.empty()) {
    return report_error(io, Error(Errc::kInvalidArgument, "give the new CHECKPOINT, a --proof FILE, or both"),
                        a.json);
  }
  witness::Request req;
  if (!a.proof.empty()) {
    auto text = read_file_or_stdin(a.proof, io.in, 1 << 20);
    if (!text.ok()) return report_error(io, text.error(), a.json);
    auto doc = jcs::parse(*text);
    if (!doc.ok()) return report_error(io, doc.error().with_context(a.proof), a.json);
    auto r = witness::request_from_consistency_doc(*doc);
    if (!r.ok()) return report_error(io, r.error().with_context(a.proof), a.json);
    req = std::move(r).value();
    // The proof's new checkpoint may be the one the witness already holds (the same file
    // handed in twice): then it is checked as the same size, without the proof.
    auto pn = note::Note::parse(req.checkpoint);
    auto pc = pn.ok() ? Checkpoint::parse(pn->text()) : Result<Checkpoint>(pn.error());
    auto stored = pc.ok() ? w->latest(pc->origin) : Result<std::optional<std::string>>(std::nullopt);
    if (pc.ok() && stored.ok() && *stored) {
      auto sn = note::Note::parse(**stored);
      auto sc = sn.ok() ? Checkpoint::parse(sn->text()) : Result<Checkpoint>(sn.error());
      if (sc.ok() && sc->size == pc->size) {
        req.old_size = sc->size;
        req.proof.clear();
        req.old_root.reset();
      }
    }
  }
  if (!a.checkpoint.empty()) {
    auto text = read_file_or_stdin(a.checkpoint, io.in, note::kMaxNoteSize);
    if (!text.ok()) return report_error(io, text.error(), a.json);
    auto n = note::Note::parse(*text);
    if (!n.ok()) return report_error(io, n.error().with_context(a.checkpoint), a.json);
    if (!a.proof.empty()) {
      auto pn = note::Note::parse(req.checkpoint);
      if (!pn.ok() || pn->text() != n->text()) {
        return report_error(
            io,
            Error(Errc::kInvalidArgument,
                  a.checkpoint + " is not the new checkpoint of the consistency proof " + a.proof),
            a.json);
      }
    }
    req.checkpoint = *text;
    if (a.proof.empty()) {
      // No proof: a first checkpoint (trust on first use), the same one again, or a smaller
      // one (refused as a rollback). A larger one needs a proof from what the witness saw.
      auto cp = Checkpoint::parse(n->text());
      if (!cp.ok()) return report_error(io, cp.error().with_context(a.checkpoint), a.json);
      auto stored = w->latest(cp->origin);
      if (!stored.ok()) return report_error(io, stored.error(), a.json);
      if (*stored) {
        auto sc =
            Checkpoint::parse(note::Note::parse(**stored).ok() ? note::Note::parse(**stored)->text() : "");
        std::uint64_t known = sc.ok() ? sc->size : 0;
        if (cp->size > known) {
          return report_error(
              io,
              Error(Errc::kInvalidArgument,
                    "this witness last cosigned the checkpoint of size " + std::to_string(known) +
                        "; to cosign size " + std::to_string(cp->size) +
                        " it needs a consistency proof: countersign box log prove --consistency " +
                        std::to_string(known) + " " + std::to_string(cp->size) +
                        " -o c.proof, then --proof c.proof"),
              a.json);
        }
        req.old_size = std::min(known, cp->size);
      }
    }
  }

  UnixTime now = io.now();
  auto out = w->add_checkpoint(req, static_cast<std::uint64_t>(now < 0 ? 0 : now));
  if (!out.ok()) return report_error(io, out.error(), a.json);
  const bool ok = out->status == witness::Status::kCosigned;
  std::string lines;
  for (const auto& s : out->cosignatures) lines += s.line();
  if (ok && !a.out.empty()) {
    // The submitted checkpoint with this cosignature added: what log verify --checkpoint and
    // log prove --cosigned take.
    auto n = note::Note::parse(req.checkpoint);
    for (const auto& s : out->cosignatures) n->add_signature(s);
    auto wr = write_output_file(a.out, n->serialize());
    if (!wr.ok()) return report_error(io, wr.error(), a.json);
  }
  if (a.json) {
    nlohmann::json j = {{"cosigned", ok},
                        {"status", status_name(out->status)},
                        {"message", out->message},
                        {"witness", w->cosigner().label()},
                        {"log_key", out->log_label},
                        {"checkpoint", head_json(out->checkpoint)},
                        {"previous", head_json(out->known)},
                        {"first_seen", out->first_seen}};
    if (out->checkpoint) j["origin"] = out->checkpoint->origin;
    if (ok) j["cosignature"] = lines;
    print_json(io, j);
  }
  if (!ok) {
    io.err << "countersign: error: REFUSED, not cosigned: " << out->message << "\n";
    return out->status == witness::Status::kBadRequest ? kExitUsage : kExitFailed;
  }
  if (!a.json) io.out << lines;
  if (out->first_seen) {
    io.err << "TRUST ON FIRST USE: " << out->message << "\n";
  } else {
    io.err << "cosigned: " << out->message << "\n";
  }
  if (!a.out.empty()) io.err << "cosigned checkpoint written to " << a.out << "\n";
  return kExitOk;
}

}  // namespace

void add_witness_commands(CLI::App* log, Registry& r) {
  auto a = std::make_shared<WitnessArgs>();
  auto* cmd =
      log->add_subcommand("witness", "Witness a log: cosign a checkpoint only if it extends the last one");
  cmd->footer(
      "An auditor's witness (C2SP tlog-witness): it remembers, per log, the last checkpoint it cosigned\n"
      "(in --state DIR) and cosigns a new one only after checking a consistency proof from it, so the\n"
      "box cannot show one history to you and another to the next auditor.\n"
      "\n"
      "Workflow, on an air-gapped laptop:\n"
      "  countersign log keygen --cosigner --name auditor.example/w1 --out w1.key   # once; give w1.key.pub "
      "out\n"
      "  countersign box log checkpoint -o cp.txt                                 # on the box's network\n"
      "  countersign log witness cp.txt --state ~/witness --key w1.key --log-key box-log.pub -o cp.cosigned\n"
      "      first time: accepted on trust (TRUST ON FIRST USE), recorded\n"
      "  later, for a new checkpoint of size NEW when the witness saw size OLD:\n"
      "  countersign box log prove --consistency OLD NEW -o c.proof\n"
      "  countersign log witness --proof c.proof --state ~/witness --key w1.key --log-key box-log.pub -o "
      "cp.cosigned\n"
      "Prints the tlog-cosignature line on stdout; -o writes the checkpoint with it. Check with\n"
      "  countersign log verify LOG --key box-log.pub --checkpoint cp.cosigned --witness w1.key.pub\n"
      "\n"
      "Refusals (exit 1, nothing recorded, nothing cosigned; the checkpoint is kept in DIR/evidence):\n"
      "  ROLLBACK  a checkpoint smaller than the one cosigned: a log never shrinks\n"
      "  FORK      same size with another root, or a proof that does not verify: two histories\n"
      "Both name the sizes and roots. The cosigner key file must be readable by its owner only.\n"
      "`log witness serve` answers the same checks over HTTP (POST /add-checkpoint).");
  cmd->add_option("CHECKPOINT", a->checkpoint, "New signed checkpoint (box log checkpoint), or - for stdin");
  cmd->add_option("--proof", a->proof,
                  "Consistency proof file from the last cosigned size (box log prove --consistency OLD NEW)");
  cmd->add_option("--state", a->state, "Witness state directory (created 0700)");
  cmd->add_option("--key", a->key, "Cosigner private key file (log keygen --cosigner), mode 0600");
  cmd->add_option("--log-key", a->log_keys, "Verifier key of a log to witness (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-o,--out", a->out, "Write the checkpoint with the new cosignature here");
  cmd->add_flag("--json", a->json, "Machine-readable output");

  auto* serve =
      cmd->add_subcommand("serve", "Serve the witness over HTTP (C2SP tlog-witness add-checkpoint)");
  serve->footer(
      "POST /add-checkpoint with \"old N\\n\", the consistency proof lines, an empty line and the signed\n"
      "checkpoint (c2sp.org/tlog-witness). Answers 200 with the cosignature line, 409 with the size it\n"
      "last cosigned (text/x.tlog.size) when old N is not it or the same size has another root,\n"
      "422 when the proof does not verify (a fork), 403 for a bad log signature, 404 for an unknown\n"
      "log, 400 for a malformed request, 413 above 64 KiB. One line per request on stderr, refusals\n"
      "naming sizes and roots. Stops cleanly on SIGTERM or SIGINT. Plain HTTP: listen on loopback\n"
      "or behind a TLS proxy.\n"
      "  countersign log witness serve --listen 127.0.0.1:8080 --state ~/witness --key w1.key \\\n"
      "      --log-key box-log.pub");
  serve->add_option("--listen", a->serve.listen, "IPV4:PORT or [IPV6]:PORT (port 0: any free port)")
      ->required();
  serve->add_option("--state", a->state, "Witness state directory (created 0700)")->required();
  serve->add_option("--key", a->key, "Cosigner private key file, mode 0600")->required();
  serve->add_option("--log-key", a->log_keys, "Verifier key of a log to witness (repeatable)")
      ->allow_extra_args(false)
      ->required();
  serve->callback([&io = r.io, &rc = r.rc, a] {
    auto w = open_witness(*a);
    if (!w.ok()) {
      rc = report_error(io, w.error(), false);
      return;
    }
    rc = serve_witness(io, *w, a->serve);
  });
  cmd->callback([&io = r.io, &rc = r.rc, a, serve] {
    if (serve->parsed()) return;
    rc = witness_offline(io, *a);
  });
}

}  // namespace countersign::cli
