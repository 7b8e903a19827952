#include "app/model/workspace.h"

#include <filesystem>

#include "core/fileio.h"
#include "core/jcs.h"
#include "core/review.h"
#include "core/signed_note.h"
#include "core/software_key.h"
#include "smartcard/attestation.h"

namespace countersign::app {

namespace fs = std::filesystem;

namespace {

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

// As `countersign bundle verify`, with the app's --attestation-root files as its own.
VerifyOptions options_at(UnixTime now, const attestation::Roots& roots) {
  VerifyOptions opt;
  opt.now = now;
  opt.attestation_verified = [roots](const PolicyKey& k) { return attestation::check(k, roots).verified; };
  return opt;
}

std::string join(const std::vector<std::string>& items, std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += (i + 1 == items.size()) ? std::string(last_sep) : std::string(", ");
    out += items[i];
  }
  return out;
}

}  // namespace

Result<std::string> Workspace::open(const std::string& path) {
  auto doc = load_document(path);
  if (!doc.ok()) return doc.error();
  return add(std::move(*doc));
}

Result<std::string> Workspace::add(Document doc) {
  const std::string name = file_name(doc.path);
  switch (doc.kind) {
    case DocKind::kProposal: {
      auto& p = std::get<Proposal>(doc.value);
      if (!proposal || proposal->id() != p.id()) {
        std::erase_if(signatures, [&](const SignatureEntry& s) { return s.signature.proposal() != p.id(); });
        if (bundle && bundle->proposal().id() != p.id()) bundle.reset();
      }
      proposal = std::move(p);
      proposal_path = doc.path;
      if (manifest && manifest->hash() != proposal->manifest() && proposal->previous() &&
          manifest->hash() == *proposal->previous()) {
        previous = std::move(manifest);
        previous_path = manifest_path;
        manifest.reset();
        subject.reset();
      }
      return "opened proposal " + name;
    }
    case DocKind::kManifest: {
      auto& m = std::get<Manifest>(doc.value);
      if (proposal && proposal->previous() && m.hash() == *proposal->previous()) {
        previous = std::move(m);
        previous_path = doc.path;
        return "opened " + name + " as the previous manifest (the one the proposal replaces)";
      }
      if (manifest && proposal && manifest->hash() == proposal->manifest() &&
          m.hash() != proposal->manifest()) {
        previous = std::move(m);
        previous_path = doc.path;
        return "opened " + name + " as the manifest to compare against";
      }
      subject = m.to_json();
      manifest = std::move(m);
      manifest_path = doc.path;
      return "opened manifest " + name;
    }
    case DocKind::kBundle: {
      auto& b = std::get<Bundle>(doc.value);
      proposal = b.proposal();
      proposal_path = doc.path;
      subject = b.subject();
      manifest = b.manifest();
      manifest_path = b.manifest() ? doc.path : std::string();
      signatures.clear();
      for (const auto& s : b.signatures()) signatures.push_back({s, "bundle"});
      bundle = std::move(b);
      bundle_path = doc.path;
      if (previous && proposal->previous() && previous->hash() != *proposal->previous()) previous.reset();
      return "opened bundle " + name + " with " + std::to_string(signatures.size()) + " signature(s)";
    }
    case DocKind::kSignature: {
      auto& s = std::get<SignatureFile>(doc.value);
      if (proposal && s.proposal() != proposal->id()) {
        return Error(Errc::kInvalidArgument,
                     name + " signs proposal " + digest_to_string(s.proposal()) + ", not the open proposal " +
                         digest_to_string(proposal->id()) +
                         ". Open the proposal it was made for, or ask the signer again.");
      }
      const std::string noun = s.statement() == Statement::kVeto ? "veto" : "signature";
      for (const auto& have : signatures) {
        if (have.signature.key() == s.key() && have.signature.fields().signature == s.fields().signature)
          return name + ": this " + noun + " is already here";
      }
      signatures.push_back({std::move(s), doc.path});
      return "added " + noun + " " + name;
    }
    case DocKind::kPolicy:
      policy = std::move(std::get<Policy>(doc.value));
      policy_path = doc.path;
      return "opened policy " + name + " (" + policy->domain() + " version " +
             std::to_string(policy->version()) + ")";
    case DocKind::kAuditExport:
      log = std::move(std::get<AuditExport>(doc.value));
      log_path = doc.path;
      return "opened audit log " + name + " with " + std::to_string(log->lines.size()) + " entries";
    case DocKind::kCheckpoint:
      checkpoint = std::move(std::get<CheckpointNote>(doc.value));
      checkpoint_path = doc.path;
      return "opened checkpoint " + name;
    case DocKind::kAttestation:
      attestation = std::move(std::get<AttestationDocument>(doc.value));
      attestation_path = doc.path;
      return "opened box attestation " + name + " (judged in Review)";
    case DocKind::kPackagesReview:
      packages_review = std::move(std::get<PackagesReview>(doc.value));
      packages_review_path = doc.path;
      if (manifest && manifest->is_packages() && manifest->hash() != packages_review->manifest()) {
        return "opened packages review " + name + ", but it is the review of manifest " +
               digest_to_string(packages_review->manifest()) +
               ", not of the open one: its changelog entries are not shown";
      }
      return "opened packages review " + name + " (changelog entries shown in Review and Diff)";
  }
  return Error(Errc::kInternal, "unhandled document kind");
}

const PackagesReview* Workspace::packages_review_for_manifest() const {
  if (!packages_review || !manifest || !manifest->is_packages()) return nullptr;
  return packages_review->manifest() == manifest->hash() ? &*packages_review : nullptr;
}

Result<std::string> Workspace::open_previous(const std::string& path) {
  CS_TRY(Document doc, load_document(path));
  if (doc.kind != DocKind::kManifest)
    return Error(Errc::kInvalidArgument, file_name(path) + " is a " + std::string(kind_name(doc.kind)) +
                                             ", not a manifest; choose the manifest being replaced");
  previous = std::move(std::get<Manifest>(doc.value));
  previous_path = path;
  return "comparing against " + file_name(path);
}

Result<std::string> Workspace::add_signature_text(std::string_view text) {
  CS_TRY(Document doc, parse_document(text, "pasted text"));
  if (doc.kind != DocKind::kSignature)
    return Error(Errc::kInvalidArgument,
                 "the pasted text is a " + std::string(kind_name(doc.kind)) + ", not a signature");
  doc.path = "pasted";
  return add(std::move(doc));
}

Result<std::string> Workspace::find_previous() {
  if (!proposal || !proposal->previous())
    return Error(Errc::kInvalidArgument, "the proposal names no previous manifest");
  if (known_manifests_dir.empty())
    return Error(Errc::kNotFound, "no folder of known manifests is set; open the previous manifest by hand");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(known_manifests_dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    auto text = read_file(entry.path().string(), std::uint64_t{256} << 20);
    if (!text.ok()) continue;
    auto kind = detect_kind(*text);
    if (!kind.ok() || *kind != DocKind::kManifest) continue;
    auto m = Manifest::parse_text(*text);
    if (!m.ok() || m->hash() != *proposal->previous()) continue;
    previous = std::move(m).value();
    previous_path = entry.path().string();
    return previous_path;
  }
  if (ec) return Error(Errc::kIo, known_manifests_dir + ": " + ec.message());
  return Error(Errc::kNotFound, "no manifest with hash " + digest_to_string(*proposal->previous()) + " in " +
                                    known_manifests_dir + "; open the previous manifest by hand");
}

std::vector<SignatureFile> Workspace::signature_files() const {
  std::vector<SignatureFile> out;
  out.reserve(signatures.size());
  for (const auto& s : signatures) out.push_back(s.signature);
  return out;
}

std::optional<ManifestDiff> Workspace::diff() const {
  if (!manifest || !previous) return std::nullopt;
  return diff_manifests(*previous, *manifest);
}

Result<Approval> approval(const Workspace& ws, UnixTime now) {
  if (!ws.proposal) return Error(Errc::kInvalidArgument, "open a proposal (or a bundle) first");
  if (!ws.policy)
    return Error(Errc::kInvalidArgument, "open the policy that governs " + ws.proposal->domain());
  const std::vector<SignatureFile> sigs = ws.signature_files();
  std::optional<Digest> subject_hash;
  if (ws.subject) {
    auto h = jcs::hash(*ws.subject);
    if (h.ok()) subject_hash = *h;
  }
  Approval a;
  a.report = verify_approval(*ws.proposal, subject_hash ? &*subject_hash : nullptr, sigs, *ws.policy,
                             options_at(now, ws.attestation_roots));
  a.counted = a.report.counted.size();
  a.threshold = a.report.rule ? a.report.rule->threshold : 0;
  a.met = a.report.approved;
  std::string line;
  if (a.report.vetoed) {
    line = std::to_string(a.report.vetoed_by.size()) + " of " + std::to_string(*a.report.rule->veto) +
           " vetoes: this proposal is dead (vetoed by " + join(a.report.vetoed_by, ", ") + ")";
  } else if (!a.report.rule) {
    line = "the policy has no rule for " + std::string(action_name(ws.proposal->action())) +
           ": it can never pass";
  } else {
    line = std::to_string(a.counted) + " of " + std::to_string(a.threshold) + " approvals";
    std::vector<std::string> needs;
    if (a.counted < a.threshold) needs.push_back(std::to_string(a.threshold - a.counted) + " more");
    for (const auto& role : a.report.missing_roles) needs.push_back("someone from " + role);
    if (!needs.empty()) {
      line += " — still needs " + join(needs, " including ");
    } else if (a.met) {
      line += " — the rule is met; the bundle can be exported";
    }
    for (const auto& f : a.report.failures) {
      if (f.check != "threshold" && f.check != "roles") line += " — " + f.message;
    }
    if (a.report.rule->veto && !a.report.vetoed_by.empty()) {
      line += " — " + std::to_string(a.report.vetoed_by.size()) + " of " +
              std::to_string(*a.report.rule->veto) + " vetoes (" + join(a.report.vetoed_by, ", ") + ")";
    }
  }
  a.progress = line;
  return a;
}

Result<Bundle> assemble_bundle(const Workspace& ws, UnixTime now) {
  if (!ws.proposal) return Error(Errc::kInvalidArgument, "open a proposal first");
  if (!ws.subject)
    return Error(Errc::kInvalidArgument, "open the manifest the proposal approves (" +
                                             digest_to_string(ws.proposal->manifest()) + ")");
  std::vector<SignatureFile> sigs;
  if (ws.policy) {
    CS_TRY(Approval a, approval(ws, now));
    for (const auto& v : a.report.signatures) {
      if (v.status != SignatureVerdict::Status::kInvalid) sigs.push_back(ws.signatures[v.index].signature);
    }
    // Valid vetoes go along: the box counts them as its own (report.vetoes is in the order
    // the vetoes appear among the signatures).
    std::size_t k = 0;
    for (const auto& s : ws.signatures) {
      if (s.signature.statement() != Statement::kVeto) continue;
      if (k < a.report.vetoes.size() && a.report.vetoes[k].status != SignatureVerdict::Status::kInvalid) {
        sigs.push_back(s.signature);
      }
      ++k;
    }
  } else {
    sigs = ws.signature_files();
  }
  CS_TRY(Bundle b, Bundle::create(*ws.proposal, *ws.subject, std::move(sigs)));
  if (b.subject_hash() != ws.proposal->manifest()) {
    return Error(Errc::kInvalidArgument, "the open manifest hashes to " + digest_to_string(b.subject_hash()) +
                                             ", but the proposal approves " +
                                             digest_to_string(ws.proposal->manifest()));
  }
  return b;
}

Result<Bundle> export_bundle(const Workspace& ws, const std::string& path, UnixTime now) {
  CS_TRY(Bundle b, assemble_bundle(ws, now));
  CS_TRY_VOID(write_file_atomic(path, to_pretty_json(b.to_json())));
  return b;
}

Result<BundleCheck> verify_open_bundle(const Workspace& ws, UnixTime now, const std::string& box_id) {
  if (!ws.policy)
    return Error(Errc::kInvalidArgument, "open the policy to verify against (the box's root of trust)");
  std::optional<Bundle> assembled;
  const Bundle* b = ws.bundle ? &*ws.bundle : nullptr;
  if (b == nullptr) {
    CS_TRY(Bundle made, assemble_bundle(ws, now));
    assembled = std::move(made);
    b = &*assembled;
  }
  VerifyOptions opt = options_at(now, ws.attestation_roots);
  if (!box_id.empty()) opt.box_id = box_id;
  BundleCheck check{verify_bundle(*b, *ws.policy, opt), {}};
  check.text = check.report.to_text(*ws.policy) + describe_bundle_subject(*b);
  if (box_id.empty() && b->proposal().boxes())
    check.text += "Note: the proposal is limited to certain boxes; enter a box id to check for one.\n";
  return check;
}

Result<LivenessReport> liveness(const Workspace& ws, UnixTime now) {
  if (!ws.policy) return Error(Errc::kInvalidArgument, "open the policy to see its approvers' liveness");
  if (!ws.log) {
    return Error(
        Errc::kInvalidArgument,
        "open the box's audit log export (`countersign box log export`) to see when each approver last "
        "proved their key");
  }
  LastProofs last;
  for (const auto& line : ws.log->lines) {
    auto entry = jcs::parse(line.entry);
    if (entry.ok()) note_proof_entry(last, *entry);
  }
  return liveness_report(*ws.policy, last, now);
}

KeyAttestation key_attestation(const PolicyKey& k, const attestation::Roots& roots) {
  const attestation::Check st = attestation::check(k, roots);
  return {st.verified, st.detail};
}

Result<SignatureFile> sign_with_key_file(const Proposal& proposal, const std::string& key_path,
                                         const SecretBytes& passphrase, std::optional<std::string> signer,
                                         UnixTime now) {
  CS_TRY_VOID(proposal.refuse_if_expired(now));
  auto key = SoftwareKey::load(key_path, passphrase);
  if (!key.ok()) return key.error().with_context(file_name(key_path));
  return sign_proposal(*key, proposal.id(), std::move(signer), now);
}

Result<std::string> key_file_holder(const std::string& key_path, const Policy* policy) {
  auto pk = SoftwareKey::read_public(key_path);
  if (!pk.ok()) return pk.error().with_context(file_name(key_path));
  const std::string id = pk->id().substr(0, 16);
  if (policy == nullptr) return "key " + id + " (open the policy to see whose key it is)";
  auto ref = policy->find_key(pk->id());
  if (!ref) return "key " + id + " is NOT in the open policy: a signature with it will not count";
  const Approver& a = *ref->approver;
  return "key " + id + " belongs to " + a.id + (a.name != a.id ? " (" + a.name + ")" : std::string());
}

Result<void> save_signature(const SignatureFile& sig, const std::string& path) {
  return write_file_atomic(path, to_pretty_json(sig.to_json()), 0644, true);
}

std::string signature_one_line(const SignatureFile& sig) {
  auto text = jcs::serialize(sig.to_json());
  return text.ok() ? *text : std::string();
}

Result<std::string> verify_log(const Workspace& ws, std::string_view vkey) {
  if (!ws.log)
    return Error(Errc::kInvalidArgument, "open an exported audit log (countersign log export) first");
  std::string trimmed(vkey);
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' '))
    trimmed.pop_back();
  CS_TRY(note::Verifier key, note::Verifier::parse(trimmed));
  std::vector<std::string> notes;
  if (ws.checkpoint) notes.push_back(ws.checkpoint->text);
  CS_TRY(audit::VerifyReport r, audit::verify_export(ws.log_path, key, notes));
  std::string out = "Log verified: " + std::to_string(r.entries) +
                    " entries, newest signed checkpoint covers " + std::to_string(r.newest.size) + " (" +
                    key.label() + ")";
  if (r.unsigned_entries > 0)
    out += "; " + std::to_string(r.unsigned_entries) + " entries after it are not yet signed";
  if (!r.consistent.empty()) out += "; the opened checkpoint is consistent with the log";
  return out;
}

}  // namespace countersign::app
