// countersign log keygen / append / show / verify / prove / check-proof / export / cosign /
// check-cosignature: the audit
// log (DESIGN.md "Audit log", docs/audit-log.md), checked offline with core's code.
//
// Proof files (core/audit_proof.h) carry the log's signed checkpoints, so check-proof needs
// only the log's key.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "cli/load.h"
#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/audit_proof.h"
#include "core/audit_verify.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/merkle.h"
#include "core/secret.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "core/tlog_proof.h"
#include "core/witness_quorum.h"

namespace countersign::cli {

Result<note::Verifier> load_verifier(const std::string& arg) {
  if (std::filesystem::exists(arg)) {
    CS_TRY(std::string text, read_file(arg, 4096));
    auto v = note::Verifier::parse(text);
    if (!v.ok()) return v.error().with_context(arg);
    return v;
  }
  if (arg.find('+') != std::string::npos) return note::Verifier::parse(arg);
  return Error(Errc::kNotFound, "key " + arg + " not found (give a .pub file or NAME+ID+KEY)");
}

Result<note::Signer> load_signer(const std::string& path, bool private_only) {
  CS_TRY(SecretBytes skey, private_only ? read_private_secret_file(path) : read_secret_file(path));
  auto s = note::Signer::parse(skey);
  if (!s.ok()) return s.error().with_context(path);
  return s;
}

namespace {

namespace fs = std::filesystem;

// A verification outcome is exit 1 whatever its code; only unreadable input is exit 2.
int report_check_failure(Io& io, const Error& e, bool json) {
  int rc = report_error(io, e, json);
  return e.code == Errc::kNotFound || e.code == Errc::kIo || e.code == Errc::kInvalidArgument ? rc
                                                                                              : kExitFailed;
}

// The first line of a file (at most 64 bytes of it: enough to tell a syslog message from
// an export line); empty when it cannot be read.
std::string first_line_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line(64, '\0');
  in.read(line.data(), static_cast<std::streamsize>(line.size()));
  line.resize(static_cast<std::size_t>(in.gcount()));
  return line.substr(0, line.find('\n'));
}

// Calls `each(index, entry_bytes, leaf_hash)` for every entry of a log directory or export.
Result<std::optional<audit::TornTail>> for_each_entry(
    const std::string& source,
    const std::function<Result<void>(std::uint64_t, const std::string&, const Digest&)>& each) {
  if (fs::is_directory(source)) {
    std::uint64_t i = 0;
    return audit::scan_record_file((fs::path(source) / "entries").string(), audit::kEntriesHeader,
                                   audit::kMaxEntrySize, "entries",
                                   [&](const audit::Record& r) { return each(i++, r.payload, r.checksum); });
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) return Error(Errc::kNotFound, "cannot open " + source + " (a log directory or a .jsonl export)");
  std::string line;
  std::uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto l = audit::parse_export_line(line);
    if (!l.ok()) return l.error().with_context(source + " line " + std::to_string(n));
    CS_TRY_VOID(each(l->index, l->entry, l->leaf_hash));
  }
  return std::optional<audit::TornTail>();
}

std::string describe(const nlohmann::json& e) {
  std::string extra;
  for (const auto& [k, v] : e.items()) {
    if (k == "seq" || k == "time" || k == "event" || k == "proposal") continue;
    std::string shown = v.is_string()            ? v.get<std::string>()
                        : v.is_number()          ? jcs::format_number(v.get<double>())
                        : jcs::serialize(v).ok() ? *jcs::serialize(v)
                                                 : v.dump();
    extra += "  " + k + "=" + shown;
  }
  return extra;
}

// --witness KEY... --quorum K: the witness policy a checkpoint must meet (log verify,
// log check-proof). quorum 0 = every witness given.
struct WitnessPolicy {
  std::vector<std::string> keys;
  std::size_t quorum = 0;
};

Result<std::vector<note::Verifier>> load_witnesses(const WitnessPolicy& p, std::size_t& quorum) {
  std::vector<note::Verifier> out;
  std::vector<std::string> distinct;
  for (const auto& k : p.keys) {
    auto v = load_verifier(k);
    if (!v.ok()) return v.error().with_context("--witness");
    if (v->type() != note::kTypeCosignatureV1)
      return Error(Errc::kInvalidArgument,
                   "--witness " + k + ": " + v->label() + " is not a cosigner key (type 0x04)");
    if (std::find(distinct.begin(), distinct.end(), v->vkey()) == distinct.end())
      distinct.push_back(v->vkey());
    out.push_back(std::move(v).value());
  }
  if (p.keys.empty() && p.quorum > 0) return Error(Errc::kInvalidArgument, "--quorum needs --witness keys");
  quorum = p.quorum == 0 ? distinct.size() : p.quorum;
  if (quorum > distinct.size()) {
    return Error(Errc::kInvalidArgument, "--quorum " + std::to_string(quorum) + " but only " +
                                             std::to_string(distinct.size()) + " distinct --witness key(s)");
  }
  return out;
}

// Checks the quorum on a checkpoint note; says on `text` which witnesses cosigned.
Result<witness::QuorumReport> check_witnesses(const std::string& note_text,
                                              const std::vector<note::Verifier>& ws, std::size_t quorum,
                                              std::ostream& text) {
  CS_TRY(note::Note n, note::Note::parse(note_text));
  witness::QuorumReport q = witness::check_quorum(n, ws, quorum);
  auto cp = Checkpoint::parse(n.text());
  text << "    witnesses: " << q.valid << " valid cosignature(s) on the checkpoint of size "
       << (cp.ok() ? std::to_string(cp->size) : "?") << ", " << q.required << " required\n";
  for (const auto& w : q.witnesses) {
    if (w.valid) {
      text << "      cosigned by " << w.label << " at " << format_rfc3339(static_cast<UnixTime>(w.time))
           << "\n";
    } else {
      text << "      missing: " << w.problem << "\n";
    }
  }
  CS_TRY_VOID(witness::require_quorum(q));
  return q;
}

nlohmann::json quorum_json(const witness::QuorumReport& q) {
  nlohmann::json cosigned = nlohmann::json::array(), missing = nlohmann::json::array();
  for (const auto& w : q.witnesses) {
    if (w.valid) {
      cosigned.push_back({{"key", w.label}, {"time", format_rfc3339(static_cast<UnixTime>(w.time))}});
    } else {
      missing.push_back({{"key", w.label}, {"problem", w.problem}});
    }
  }
  return {{"required", q.required}, {"valid", q.valid}, {"cosigned", cosigned}, {"missing", missing}};
}

// --- commands --------------------------------------------------------------------------

struct KeygenArgs {
  std::string name, out;
  bool cosigner = false;
};

int keygen(Io& io, const KeygenArgs& a) {
  auto signer = note::Signer::generate(a.name, a.cosigner ? note::kTypeCosignatureV1 : note::kTypeEd25519);
  if (!signer.ok()) return report_error(io, signer.error(), false);
  SecretBytes skey = signer->skey();
  auto w = write_file_atomic(a.out, std::string_view(reinterpret_cast<const char*>(skey.data()), skey.size()),
                             0600, true);
  if (!w.ok()) return report_error(io, w.error(), false);
  std::string vkey = signer->verifier().vkey();
  auto p = write_file_atomic(a.out + ".pub", vkey + "\n", 0644, true);
  if (!p.ok()) return report_error(io, p.error(), false);
  io.out << vkey << "\n";
  io.err << "private key written to " << a.out << " (mode 0600); verifier key to " << a.out << ".pub\n";
  return kExitOk;
}

struct AppendArgs {
  std::string dir, key, event, proposal, fields;
  bool no_checkpoint = false;
};

int append(Io& io, const AppendArgs& a) {
  nlohmann::json fields = nlohmann::json::object();
  if (!a.fields.empty()) {
    auto f = jcs::parse(a.fields);
    if (!f.ok() || !f->is_object())
      return report_error(io, Error(Errc::kInvalidArgument, "--fields must be a JSON object"), false);
    fields = *f;
  }
  if (!a.proposal.empty()) fields["proposal"] = a.proposal;
  std::optional<note::Signer> signer;
  if (!a.no_checkpoint) {
    auto s = load_signer(a.key);
    if (!s.ok()) return report_error(io, s.error(), false);
    signer.emplace(std::move(s).value());
  }
  auto log = audit::AuditLog::open(a.dir, audit::AuditLog::Mode::kWrite, io.now);
  if (!log.ok()) return report_error(io, log.error(), false);
  for (const auto& t : log->torn_tail()) {
    io.err << "repaired: cut " << t.bytes << " torn bytes at byte " << t.offset << " of " << t.file << "\n";
  }
  auto seq = log->append(a.event, fields);
  if (!seq.ok()) return report_error(io, seq.error(), false);
  io.out << "appended entry " << *seq << " (" << a.event << ")\n";
  if (signer) {
    auto cp = log->sign_checkpoint(*signer);
    if (!cp.ok()) return report_error(io, cp.error(), false);
    io.out << "checkpoint: size " << log->size() << ", root " << base64_encode(log->root()) << "\n";
  }
  return kExitOk;
}

int show(Io& io, const std::string& source, std::uint64_t from, bool json) {
  nlohmann::json rows = nlohmann::json::array();
  std::ostringstream text;
  auto torn = for_each_entry(
      source, [&](std::uint64_t i, const std::string& bytes, const Digest& leaf) -> Result<void> {
        if (i < from) return {};
        auto e = jcs::parse(bytes);
        if (!e.ok()) return Error(Errc::kMalformed, "entry " + std::to_string(i) + ": " + e.error().message);
        if (json) {
          rows.push_back({{"index", i}, {"leaf_hash", hex_encode(leaf)}, {"entry", *e}});
        } else {
          auto get = [&](const char* k) {
            return e->contains(k) && (*e)[k].is_string() ? (*e)[k].get<std::string>() : "-";
          };
          text << "#" << i << "  " << get("time") << "  " << get("event");
          if (e->contains("proposal")) text << "  proposal " << get("proposal").substr(0, 19) << "…";
          text << describe(*e) << "\n";
        }
        return {};
      });
  if (!torn.ok()) return report_error(io, torn.error(), json);
  if (json) {
    nlohmann::json out = {{"entries", rows}};
    if (*torn)
      out["torn_tail"] = {{"file", (*torn)->file}, {"offset", (*torn)->offset}, {"bytes", (*torn)->bytes}};
    print_json(io, out);
  } else {
    io.out << text.str();
    if (*torn)
      io.out << "(torn final record: " << (*torn)->bytes << " bytes at byte " << (*torn)->offset
             << ", not shown)\n";
  }
  return kExitOk;
}

// The checkpoint a witness quorum is required of: the largest --checkpoint given, with the
// cosignatures of every --checkpoint that is the same checkpoint (one file per witness).
Result<std::string> witnessed_checkpoint(const std::vector<std::string>& notes,
                                         const std::vector<std::string>& paths) {
  std::size_t best = notes.size();
  std::uint64_t best_size = 0;
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    auto n = note::Note::parse(notes[i]);
    if (!n.ok()) return n.error().with_context(paths[i]);
    auto c = Checkpoint::parse(n->text());
    if (!c.ok()) return c.error().with_context(paths[i]);
    texts.push_back(n->text());
    if (best == notes.size() || c->size > best_size) best = i, best_size = c->size;
  }
  if (best == notes.size()) {
    return Error(
        Errc::kInvalidArgument,
        "--witness needs the cosigned checkpoint: give it with --checkpoint (log witness -o, or the box)");
  }
  std::vector<std::string> same, names;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (i != best && texts[i] == texts[best]) same.push_back(notes[i]), names.push_back(paths[i]);
  }
  CS_TRY(note::Note merged, witness::merge_cosignatures(notes[best], same, names));
  return merged.serialize();
}

int verify(Io& io, const std::string& source, const std::string& key_arg, const std::vector<std::string>& cps,
           const WitnessPolicy& wp, bool json) {
  auto key = load_verifier(key_arg);
  if (!key.ok()) return report_error(io, key.error(), json);
  std::size_t quorum = 0;
  auto witnesses = load_witnesses(wp, quorum);
  if (!witnesses.ok()) return report_error(io, witnesses.error(), json);
  std::vector<std::string> notes;
  for (const auto& p : cps) {
    auto t = read_file(p, note::kMaxNoteSize);
    if (!t.ok()) return report_error(io, t.error(), json);
    notes.push_back(*t);
  }
  std::string witnessed;
  if (!witnesses->empty()) {
    auto w = witnessed_checkpoint(notes, cps);
    if (!w.ok()) return report_error(io, w.error(), json);
    witnessed = *w;
  }
  // A directory holding segments/ is a copy of the box's S3 archive; another, the log itself;
  // a file of syslog messages, a SIEM's copy; another file, a `log export`.
  std::optional<std::uint64_t> segments;
  std::optional<audit::SyslogCopyReport> syslog;
  Result<audit::VerifyReport> r = Error(Errc::kInternal, "not verified");
  if (!fs::is_directory(source) && audit::looks_like_syslog(first_line_of(source))) {
    auto c = audit::verify_syslog_copy(source, *key, notes);
    if (c.ok()) {
      syslog = *c;
      r = c->log;
    } else {
      r = c.error();
    }
  } else if (fs::is_directory(fs::path(source) / "segments")) {
    auto b = audit::verify_bucket_copy(source, *key, notes);
    if (b.ok()) {
      segments = b->segments;
      r = std::move(b->log);
    } else {
      r = b.error();
    }
  } else {
    r = fs::is_directory(source) ? audit::verify_log_dir(source, *key, notes)
                                 : audit::verify_export(source, *key, notes);
  }
  if (!r.ok()) return report_check_failure(io, r.error().with_context("log verify " + source), json);
  std::ostringstream wtext;
  std::optional<witness::QuorumReport> quorum_report;
  if (!witnesses->empty()) {
    auto q = check_witnesses(witnessed, *witnesses, quorum, wtext);
    if (!q.ok()) {
      if (!json) io.out << wtext.str();
      return report_check_failure(io, q.error().with_context("log verify " + source), json);
    }
    quorum_report = *q;
  }
  if (json) {
    nlohmann::json j = {
        {"valid", true},
        {"entries", r->entries},
        {"root", base64_encode(r->root)},
        {"checkpoints_checked", r->checkpoints_checked},
        {"newest_checkpoint", {{"size", r->newest.size}, {"root", base64_encode(r->newest.root)}}},
        {"unsigned_entries", r->unsigned_entries},
        {"consistent_checkpoints", r->consistent.size()}};
    if (r->torn)
      j["torn_tail"] = {{"file", r->torn->file}, {"offset", r->torn->offset}, {"bytes", r->torn->bytes}};
    if (quorum_report) j["witnesses"] = quorum_json(*quorum_report);
    if (segments) j["segments"] = *segments;
    if (syslog) j["syslog"] = {{"lines", syslog->lines}, {"repeated", syslog->duplicates}};
    print_json(io, j);
    return kExitOk;
  }
  io.out << "OK: " << r->entries << " entries, root " << base64_encode(r->root)
         << (segments ? " (from " + std::to_string(*segments) + " archived segments, none missing)" : "")
         << (syslog ? " (from " + std::to_string(syslog->lines) + " syslog messages, " +
                          std::to_string(syslog->duplicates) + " of them sent again after a reconnect)"
                    : "")
         << "\n";
  io.out << "    " << r->checkpoints_checked << " checkpoint(s) signed by " << key->label()
         << " match; newest covers " << r->newest.size << " entries\n";
  if (r->unsigned_entries > 0) {
    io.out << "    note: " << r->unsigned_entries
           << " newest entries are not yet covered by a signed checkpoint\n";
  }
  for (const auto& c : r->consistent) {
    if (c.size < r->newest.size) {
      io.out << "    your checkpoint of size " << c.size << " is consistent with it: no history rewritten\n";
    } else {
      io.out << "    your checkpoint of size " << c.size << " is the newest\n";
    }
  }
  io.out << wtext.str();
  if (r->torn) {
    io.out << "    torn final record (" << r->torn->bytes << " bytes at byte " << r->torn->offset << " of "
           << r->torn->file << "): a crash during an append; the writer cuts it off on its next start\n";
  }
  return kExitOk;
}

struct ProveArgs {
  std::string dir, out;
  std::uint64_t entry = 0;
  std::uint64_t size = 0;
  std::vector<std::uint64_t> consistency;
  std::vector<std::string> cosigned;  // checkpoints with witness cosignatures to carry
  bool tlog_proof = false;
};

}  // namespace

Result<std::string> proof_output(const nlohmann::json& fetched, const std::vector<std::string>& cosigned,
                                 bool tlog_proof) {
  nlohmann::json doc = fetched;
  const bool inclusion = doc.is_object() && doc.contains("checkpoint") && doc["checkpoint"].is_string();
  if (!cosigned.empty()) {
    if (!inclusion) return Error(Errc::kInvalidArgument, "--cosigned goes with --entry N");
    std::vector<std::string> notes;
    for (const auto& p : cosigned) {
      CS_TRY(std::string t, read_file(p, note::kMaxNoteSize));
      notes.push_back(std::move(t));
    }
    auto merged = witness::merge_cosignatures(doc["checkpoint"].get<std::string>(), notes, cosigned);
    if (!merged.ok()) {
      return merged.error().with_context("--cosigned (give --size with the size of the cosigned checkpoint)");
    }
    doc["checkpoint"] = merged->serialize();
  }
  if (!tlog_proof) return to_pretty_json(doc);
  CS_TRY(audit::TlogProof p, audit::tlog_proof_from_inclusion_doc(doc));
  return p.serialize();
}

namespace {

int prove(Io& io, ProveArgs a, bool entry_given) {
  auto log = audit::AuditLog::open(a.dir, audit::AuditLog::Mode::kReadOnly);
  if (!log.ok()) return report_error(io, log.error(), false);
  if (entry_given && a.size == 0 && !a.cosigned.empty()) {
    // The checkpoint the witnesses cosigned, unless --size says otherwise.
    auto t = read_file(a.cosigned[0], note::kMaxNoteSize);
    if (!t.ok()) return report_error(io, t.error(), false);
    auto n = note::Note::parse(*t);
    auto c = n.ok() ? Checkpoint::parse(n->text()) : Result<Checkpoint>(n.error());
    if (!c.ok()) return report_error(io, c.error().with_context(a.cosigned[0]), false);
    a.size = c->size;
  }
  auto doc = entry_given ? audit::inclusion_proof_doc(*log, a.entry, a.size)
                         : audit::consistency_proof_doc(*log, a.consistency[0], a.consistency[1]);
  if (!doc.ok()) return report_error(io, doc.error(), false);
  auto text = proof_output(*doc, a.cosigned, a.tlog_proof);
  if (!text.ok()) return report_error(io, text.error(), false);
  auto w = write_output(io, a.out, *text);
  if (!w.ok()) return report_error(io, w.error(), false);
  if (!a.out.empty() && a.out != "-") io.err << "proof written to " << a.out << "\n";
  return kExitOk;
}

int check_proof(Io& io, const std::string& path, const std::string& key_arg, const WitnessPolicy& wp,
                bool json) {
  auto key = load_verifier(key_arg);
  if (!key.ok()) return report_error(io, key.error(), json);
  std::size_t quorum = 0;
  auto witnesses = load_witnesses(wp, quorum);
  if (!witnesses.ok()) return report_error(io, witnesses.error(), json);
  auto text = read_file_or_stdin(path, io.in, 1 << 20);
  if (!text.ok()) return report_error(io, text.error(), json);
  // Two forms: C2SP tlog-proof text, or our JSON proof documents (core/audit_proof.h).
  std::string form, checkpoint;
  Result<std::string> r = std::string();
  if (audit::is_tlog_proof(*text)) {
    form = audit::kTlogProofHeader;
    auto p = audit::TlogProof::parse(*text);
    if (!p.ok()) return report_error(io, p.error().with_context(path), json);
    checkpoint = p->checkpoint;
    r = audit::check_tlog_proof(*p, *key);
  } else {
    auto d = jcs::parse(*text);
    if (!d.ok()) {
      return report_error(
          io, d.error().with_context(path + " (neither a JSON proof file nor a C2SP tlog-proof)"), json);
    }
    form = d->contains("schema") && (*d)["schema"].is_string() ? (*d)["schema"].get<std::string>() : "";
    for (const char* k : {"checkpoint", "new_checkpoint"}) {
      if (d->contains(k) && (*d)[k].is_string()) checkpoint = (*d)[k].get<std::string>();
    }
    r = audit::check_proof_doc(*d, *key);
  }
  if (!r.ok()) return report_check_failure(io, r.error().with_context(path), json);
  std::ostringstream wtext;
  std::optional<witness::QuorumReport> quorum_report;
  if (!witnesses->empty()) {
    auto q = check_witnesses(checkpoint, *witnesses, quorum, wtext);
    if (!q.ok()) {
      if (!json) io.out << wtext.str();
      return report_check_failure(io, q.error().with_context(path), json);
    }
    quorum_report = *q;
  }
  if (json) {
    nlohmann::json j = {{"valid", true}, {"schema", form}};
    if (quorum_report) j["witnesses"] = quorum_json(*quorum_report);
    print_json(io, j);
  } else {
    io.out << "OK: " << *r << wtext.str();
  }
  return kExitOk;
}

int export_log(Io& io, const std::string& dir, const std::string& out, const std::string& cp_out,
               std::uint64_t from) {
  if (!fs::is_directory(dir))
    return report_error(io, Error(Errc::kNotFound, dir + " is not a log directory"), false);
  // To a file: collected, then written with write_output_file, so a failed or interrupted
  // export never leaves a partial file under the requested name (and a device stays one).
  const bool to_file = !out.empty() && out != "-";
  std::ostringstream collected;
  std::ostream* sink = to_file ? static_cast<std::ostream*>(&collected) : &io.out;
  std::uint64_t n = 0;
  auto torn =
      for_each_entry(dir, [&](std::uint64_t i, const std::string& bytes, const Digest& leaf) -> Result<void> {
        if (i >= from) {
          *sink << audit::export_line(i, bytes, leaf) << "\n";
          ++n;
        }
        return {};
      });
  if (!torn.ok()) return report_error(io, torn.error(), false);
  if (to_file) {
    auto w = write_output_file(out, collected.str());
    if (!w.ok()) return report_error(io, w.error(), false);
  }
  if (!cp_out.empty()) {
    auto log = audit::AuditLog::open(dir, audit::AuditLog::Mode::kReadOnly);
    if (!log.ok()) return report_error(io, log.error(), false);
    auto cp = audit::find_checkpoint(*log, 0);
    if (!cp.ok()) return report_error(io, cp.error(), false);
    auto w = write_output_file(cp_out, cp->first);
    if (!w.ok()) return report_error(io, w.error(), false);
  }
  io.err << "exported " << n << " entries\n";
  return kExitOk;
}

struct CosignArgs {
  std::string checkpoint, key, log_key, out;
};

// tlog-cosignature: an auditor who has checked the log (log verify) adds a timestamped
// cosignature to its checkpoint. The checkpoint must verify with the log key first.
int cosign(Io& io, const CosignArgs& a) {
  auto log_key = load_verifier(a.log_key);
  if (!log_key.ok()) return report_error(io, log_key.error(), false);
  auto signer = load_signer(a.key, true);  // an auditor's key: readable by its owner only
  if (!signer.ok()) return report_error(io, signer.error(), false);
  auto text = read_file_or_stdin(a.checkpoint, io.in, note::kMaxNoteSize);
  if (!text.ok()) return report_error(io, text.error(), false);
  auto cp = audit::open_checkpoint(*text, *log_key);
  if (!cp.ok()) return report_check_failure(io, cp.error().with_context(a.checkpoint), false);
  auto n = note::Note::parse(*text);
  UnixTime now = io.now();
  auto sig = signer->cosign(n->text(), static_cast<std::uint64_t>(now < 0 ? 0 : now));
  if (!sig.ok()) return report_error(io, sig.error(), false);
  n->add_signature(*sig);
  auto w = write_output(io, a.out, n->serialize());
  if (!w.ok()) return report_error(io, w.error(), false);
  io.err << "cosigned checkpoint of size " << cp->size << " as " << signer->verifier().label() << "\n";
  return kExitOk;
}

int check_cosignature(Io& io, const std::string& path, const std::string& log_key_arg,
                      const std::string& cosigner_arg) {
  auto log_key = load_verifier(log_key_arg);
  if (!log_key.ok()) return report_error(io, log_key.error(), false);
  auto cosigner = load_verifier(cosigner_arg);
  if (!cosigner.ok()) return report_error(io, cosigner.error(), false);
  auto text = read_file_or_stdin(path, io.in, note::kMaxNoteSize);
  if (!text.ok()) return report_error(io, text.error(), false);
  auto cp = audit::open_checkpoint(*text, *log_key);
  if (!cp.ok()) return report_check_failure(io, cp.error().with_context(path), false);
  auto ts = note::verify_cosignature(*note::Note::parse(*text), *cosigner);
  if (!ts.ok()) return report_check_failure(io, ts.error().with_context(path), false);
  io.out << "OK: checkpoint of size " << cp->size << " cosigned by " << cosigner->label() << " at "
         << format_rfc3339(static_cast<UnixTime>(*ts)) << "\n";
  return kExitOk;
}

}  // namespace

void add_log_commands(Registry& r) {
  auto* log = r.app.add_subcommand("log", "The box's tamper-evident audit log: show, verify, prove, export");
  log->require_subcommand(1);
  log->footer(
      "The log is an RFC 9162 Merkle tree over JSON entries with C2SP checkpoints signed by the box's\n"
      "Ed25519 log key. An auditor needs only a copy of the log (or an export) and LOGKEY.pub:\n"
      "  countersign log verify /var/lib/countersign/log --key box-log.pub --checkpoint saved.checkpoint\n"
      "Format and threat model: docs/audit-log.md.");

  auto kg = std::make_shared<KeygenArgs>();
  auto* kg_cmd = log->add_subcommand("keygen", "Make a log (or auditor cosigner) Ed25519 key");
  kg_cmd->footer(
      "Writes the private key (C2SP/sumdb note skey form) with mode 0600 and FILE.pub with the\n"
      "verifier key, which is also printed. Refuses to overwrite.");
  kg_cmd->add_option("--name", kg->name, "Key name = checkpoint origin, e.g. box17.example.org/audit")
      ->required();
  kg_cmd->add_option("--out", kg->out, "Private key file")->required();
  kg_cmd->add_flag("--cosigner", kg->cosigner, "A tlog-cosignature (type 0x04) key for an auditor");
  kg_cmd->callback([&io = r.io, &rc = r.rc, kg] { rc = keygen(io, *kg); });

  auto ap = std::make_shared<AppendArgs>();
  auto* ap_cmd = log->add_subcommand("append", "Append one entry and sign a checkpoint (tests, demos)");
  ap_cmd->footer("The daemon is the real writer; this is for tests and demonstrations.");
  ap_cmd->add_option("LOGDIR", ap->dir, "Log directory (created if missing)")->required();
  ap_cmd->add_option("--key", ap->key, "Log private key file (from log keygen)");
  ap_cmd->add_option("--event", ap->event, "Event name, e.g. bundle-received")->required();
  ap_cmd->add_option("--proposal", ap->proposal, "Proposal id sha256:<hex>");
  ap_cmd->add_option("--fields", ap->fields, "More members as a JSON object");
  ap_cmd->add_flag("--no-checkpoint", ap->no_checkpoint, "Do not sign a checkpoint");
  ap_cmd->callback([&io = r.io, &rc = r.rc, ap] {
    if (ap->key.empty() && !ap->no_checkpoint) {
      rc = report_error(io, Error(Errc::kInvalidArgument, "--key is required unless --no-checkpoint"), false);
      return;
    }
    rc = append(io, *ap);
  });

  auto sh_src = std::make_shared<std::string>();
  auto sh_from = std::make_shared<std::uint64_t>(0);
  auto sh_json = std::make_shared<bool>(false);
  auto* sh_cmd = log->add_subcommand("show", "List the entries of a log directory or export");
  sh_cmd->add_option("SOURCE", *sh_src, "Log directory or JSON-lines export")->required();
  sh_cmd->add_option("--from", *sh_from, "First entry to show");
  sh_cmd->add_flag("--json", *sh_json, "Machine-readable output");
  sh_cmd->callback(
      [&io = r.io, &rc = r.rc, sh_src, sh_from, sh_json] { rc = show(io, *sh_src, *sh_from, *sh_json); });

  auto vf_src = std::make_shared<std::string>();
  auto vf_key = std::make_shared<std::string>();
  auto vf_cps = std::make_shared<std::vector<std::string>>();
  auto vf_json = std::make_shared<bool>(false);
  auto vf_wp = std::make_shared<WitnessPolicy>();
  auto* vf_cmd = log->add_subcommand("verify", "Recompute the tree and check it against signed checkpoints");
  vf_cmd->footer(
      "Checks every entry, every checkpoint's signature by --key, that the recomputed tree has each\n"
      "checkpoint's root, and that each --checkpoint you saved earlier is consistent with the newest\n"
      "(RFC 9162 consistency proof: no history rewritten). For an export, --checkpoint gives the\n"
      "signed checkpoint(s) to check against. Exit 1 naming the first bad entry or checkpoint.\n"
      "With --witness W.pub (repeatable) the largest --checkpoint must also carry valid cosignatures\n"
      "(C2SP tlog-cosignature) from at least --quorum K distinct witnesses (default: all given);\n"
      "cosignatures on copies of that checkpoint in other --checkpoint files (one per witness) count.\n"
      "Says which witnesses cosigned; when the quorum is not met, how many were valid and which are\n"
      "missing (exit 1).\n"
      "SOURCE may also be a copy of the box's S3 archive (a directory with segments/ and\n"
      "checkpoints/, e.g. from `aws s3 sync s3://BUCKET/PREFIX/BOX copy`): the segments are read in\n"
      "order, overlaps must agree, and every range of entries no segment holds is named (exit 1).\n"
      "Or a SIEM's copy: a file of the RFC 5424 messages the box sent (one a line, as rsyslog's\n"
      "%rawmsg% writes them); an entry sent again after a reconnect must repeat the same bytes, and a\n"
      "missing entry is named with its line (exit 1).");
  vf_cmd
      ->add_option("SOURCE", *vf_src,
                   "Log directory, JSON-lines export, S3 archive copy or file of syslog messages")
      ->required();
  vf_cmd->add_option("--key", *vf_key, "Log verifier key (.pub file or NAME+ID+KEY)")->required();
  vf_cmd->add_option("--checkpoint", *vf_cps, "A signed checkpoint you hold (repeatable)");
  vf_cmd->add_option("--witness", vf_wp->keys, "Witness cosigner verifier key (repeatable)")
      ->allow_extra_args(false);
  vf_cmd->add_option("--quorum", vf_wp->quorum, "Valid cosignatures required (default: every --witness)")
      ->check(CLI::PositiveNumber);
  vf_cmd->add_flag("--json", *vf_json, "Machine-readable output");
  vf_cmd->callback([&io = r.io, &rc = r.rc, vf_src, vf_key, vf_cps, vf_wp, vf_json] {
    rc = verify(io, *vf_src, *vf_key, *vf_cps, *vf_wp, *vf_json);
  });

  auto pv = std::make_shared<ProveArgs>();
  auto* pv_cmd = log->add_subcommand("prove", "Write an inclusion or consistency proof file");
  pv_cmd->footer(
      "--entry N: inclusion of entry N in the newest signed checkpoint (or the one of --size S).\n"
      "--consistency OLD NEW: consistency between the signed checkpoints of sizes OLD and NEW.\n"
      "--tlog-proof: write --entry's proof as a C2SP tlog-proof (c2sp.org/tlog-proof@v1; the entry in its\n"
      "extra line); --cosigned FILE (repeatable, from log witness -o) adds the witnesses' cosignatures\n"
      "to the checkpoint, which is then the cosigned one unless --size says otherwise.\n"
      "Check the file on another machine with: countersign log check-proof FILE --key LOGKEY.pub\n"
      "  [--witness W1.pub --witness W2.pub --quorum 2]");
  pv_cmd->add_option("LOGDIR", pv->dir, "Log directory")->required();
  auto* pv_entry = pv_cmd->add_option("--entry", pv->entry, "Entry index");
  pv_cmd->add_option("--size", pv->size, "Checkpoint size for --entry (default: newest)");
  auto* pv_cons = pv_cmd->add_option("--consistency", pv->consistency, "OLD NEW tree sizes")->expected(2);
  pv_entry->excludes(pv_cons);
  pv_cmd->add_option("-o,--out", pv->out, "Proof file (default: standard output)");
  auto* pv_tlog = pv_cmd->add_flag("--tlog-proof", pv->tlog_proof, "C2SP tlog-proof form (with --entry)");
  pv_cmd
      ->add_option("--cosigned", pv->cosigned,
                   "Cosigned checkpoint whose cosignatures to include (repeatable)")
      ->allow_extra_args(false);
  pv_tlog->excludes(pv_cons);
  pv_cmd->callback([&io = r.io, &rc = r.rc, pv, pv_entry, pv_cons] {
    if (pv_entry->count() == 0 && pv_cons->count() == 0) {
      rc = report_error(io, Error(Errc::kInvalidArgument, "give --entry N or --consistency OLD NEW"), false);
      return;
    }
    rc = prove(io, *pv, pv_entry->count() > 0);
  });

  auto cp_path = std::make_shared<std::string>();
  auto cp_key = std::make_shared<std::string>();
  auto cp_json = std::make_shared<bool>(false);
  auto cp_wp = std::make_shared<WitnessPolicy>();
  auto* cp_cmd = log->add_subcommand("check-proof", "Verify a proof file from log prove, offline");
  cp_cmd->footer(
      "Takes the JSON proof files of log prove / box log prove and C2SP tlog-proofs (--tlog-proof), and\n"
      "tells them apart by their first bytes. With --witness W.pub (repeatable) the proof's checkpoint\n"
      "must carry valid cosignatures from --quorum K of them (default: all).");
  cp_cmd->add_option("PROOF", *cp_path, "Proof file, or - for standard input")->required();
  cp_cmd->add_option("--witness", cp_wp->keys, "Witness cosigner verifier key (repeatable)")
      ->allow_extra_args(false);
  cp_cmd->add_option("--quorum", cp_wp->quorum, "Valid cosignatures required (default: every --witness)")
      ->check(CLI::PositiveNumber);
  cp_cmd->add_option("--key", *cp_key, "Log verifier key (.pub file or NAME+ID+KEY)")->required();
  cp_cmd->add_flag("--json", *cp_json, "Machine-readable output");
  cp_cmd->callback([&io = r.io, &rc = r.rc, cp_path, cp_key, cp_wp, cp_json] {
    rc = check_proof(io, *cp_path, *cp_key, *cp_wp, *cp_json);
  });

  auto cs = std::make_shared<CosignArgs>();
  auto* cs_cmd = log->add_subcommand("cosign", "Add an auditor's tlog-cosignature to a checkpoint");
  cs_cmd->footer(
      "Run after log verify succeeded. The checkpoint must verify with --log-key; the cosigner key\n"
      "comes from log keygen --cosigner. Check with: log check-cosignature.");
  cs_cmd->add_option("CHECKPOINT", cs->checkpoint, "Signed checkpoint file, or - for standard input")
      ->required();
  cs_cmd->add_option("--key", cs->key, "Cosigner private key file")->required();
  cs_cmd->add_option("--log-key", cs->log_key, "Log verifier key")->required();
  cs_cmd->add_option("-o,--out", cs->out, "Cosigned checkpoint (default: standard output)");
  cs_cmd->callback([&io = r.io, &rc = r.rc, cs] { rc = cosign(io, *cs); });

  auto cc_path = std::make_shared<std::string>();
  auto cc_key = std::make_shared<std::string>();
  auto cc_cosigner = std::make_shared<std::string>();
  auto* cc_cmd = log->add_subcommand("check-cosignature", "Check an auditor's cosignature on a checkpoint");
  cc_cmd->add_option("CHECKPOINT", *cc_path, "Cosigned checkpoint file")->required();
  cc_cmd->add_option("--key", *cc_key, "Log verifier key")->required();
  cc_cmd->add_option("--cosigner", *cc_cosigner, "Cosigner verifier key (type 0x04)")->required();
  cc_cmd->callback([&io = r.io, &rc = r.rc, cc_path, cc_key, cc_cosigner] {
    rc = check_cosignature(io, *cc_path, *cc_key, *cc_cosigner);
  });

  add_witness_commands(log, r);

  auto ex_dir = std::make_shared<std::string>();
  auto ex_out = std::make_shared<std::string>();
  auto ex_cp = std::make_shared<std::string>();
  auto ex_from = std::make_shared<std::uint64_t>(0);
  auto ex_jsonl = std::make_shared<bool>(false);
  auto* ex_cmd = log->add_subcommand("export", "Export entries as JSON lines for a SIEM");
  ex_cmd->footer(
      "Each line: {\"entry\":{...},\"index\":N,\"leaf_hash\":\"<hex>\"} (JCS). An export from entry 0\n"
      "with --checkpoint-out can be checked by log verify EXPORT --checkpoint FILE.");
  ex_cmd->add_option("LOGDIR", *ex_dir, "Log directory")->required();
  ex_cmd->add_flag("--jsonl", *ex_jsonl, "JSON lines (the only format)")->required();
  ex_cmd->add_option("-o,--out", *ex_out, "Output file (default: standard output)");
  ex_cmd->add_option("--checkpoint-out", *ex_cp, "Also write the newest signed checkpoint here");
  ex_cmd->add_option("--from", *ex_from, "First entry to export");
  ex_cmd->callback([&io = r.io, &rc = r.rc, ex_dir, ex_out, ex_cp, ex_from, ex_jsonl] {
    // CLI11 binds the flag by reference: the lambda owns ex_jsonl so that it outlives parsing.
    if (!*ex_jsonl) return;  // unreachable: --jsonl is required
    rc = export_log(io, *ex_dir, *ex_out, *ex_cp, *ex_from);
  });
}

}  // namespace countersign::cli
