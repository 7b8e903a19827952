// countersign bundle assemble / verify.
#include "cli/cli.h"
#include "cli/load.h"
#include "core/bundle.h"
#include "core/jcs.h"
#include "core/review.h"
#include "core/verify.h"
#include "smartcard/attestation.h"

namespace countersign::cli {

namespace {

struct AssembleArgs {
  std::string proposal, manifest, out;
  std::vector<std::string> signatures;
};

int assemble(Io& io, const AssembleArgs& a) {
  auto p = load_document<Proposal>(io, a.proposal);
  if (!p.ok()) return report_error(io, p.error(), false);
  auto text = read_file(a.manifest);
  if (!text.ok()) return report_error(io, text.error(), false);
  auto subject = jcs::parse(*text);
  if (!subject.ok()) return report_error(io, subject.error().with_context(a.manifest), false);
  std::vector<SignatureFile> sigs;
  for (const auto& path : a.signatures) {
    auto s = load_document<SignatureFile>(io, path);
    if (!s.ok()) return report_error(io, s.error(), false);
    if (s->statement() == Statement::kLiveness) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument, path + " is a liveness proof: it approves nothing; give it to "
                                               "the box with `countersign box prove`"),
          false);
    }
    if (s->proposal() != p->id()) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument, path + " signs proposal " + digest_to_string(s->proposal()) +
                                            ", not " + digest_to_string(p->id())),
          false);
    }
    sigs.push_back(std::move(s).value());
  }
  auto b = Bundle::create(*p, *subject, std::move(sigs));
  if (!b.ok()) return report_error(io, b.error(), false);
  if (b->subject_hash() != p->manifest()) {
    return report_error(
        io,
        Error(Errc::kInvalidArgument, a.manifest + " hashes to " + digest_to_string(b->subject_hash()) +
                                          ", but the proposal approves " + digest_to_string(p->manifest())),
        false);
  }
  auto written = write_output(io, a.out, to_pretty_json(b->to_json()));
  if (!written.ok()) return report_error(io, written.error(), false);
  std::size_t vetoes = 0;
  for (const auto& s : b->signatures()) vetoes += s.statement() == Statement::kVeto ? 1u : 0u;
  io.err << "bundle for proposal " << digest_to_string(p->id()) << " with " << b->signatures().size() - vetoes
         << " signature(s)" << (vetoes ? " and " + std::to_string(vetoes) + " veto(es)" : "") << "\n";
  return kExitOk;
}

struct VerifyArgs {
  std::vector<std::string> attestation_roots;
  std::string policy, box, at, bundle;
  std::int64_t skew = 300;
  bool json = false;
};

int verify(Io& io, const VerifyArgs& a) {
  auto policy = load_document<Policy>(io, a.policy);
  if (!policy.ok()) return report_error(io, policy.error(), a.json);
  auto bundle = load_document<Bundle>(io, a.bundle);
  if (!bundle.ok()) return report_error(io, bundle.error(), a.json);
  VerifyOptions opt;
  opt.now = io.now();
  if (!a.at.empty()) {
    auto t = parse_rfc3339(a.at);
    if (!t.ok()) return report_error(io, Error(Errc::kInvalidArgument, "--at: " + t.error().message), a.json);
    opt.now = *t;
  }
  opt.skew_seconds = a.skew;
  if (!a.box.empty()) opt.box_id = a.box;
  auto roots = attestation::Roots::pinned_plus(a.attestation_roots);
  if (!roots.ok()) return report_error(io, roots.error(), a.json);
  opt.attestation_verified = [r = std::move(*roots)](const PolicyKey& k) {
    return attestation::check(k, r).verified;
  };
  VerifyReport report = verify_bundle(*bundle, *policy, opt);
  if (a.json) {
    print_json(io, report.to_json());
  } else {
    io.out << report.to_text(*policy);
    io.out << describe_bundle_subject(*bundle);
    if (a.box.empty() && bundle->proposal().boxes()) {
      io.out << "Note: the proposal is limited to certain boxes; pass --box ID to check for one.\n";
    }
  }
  return report.approved ? kExitOk : kExitFailed;
}

}  // namespace

void add_bundle_commands(Registry& r) {
  auto* bundle = r.app.add_subcommand("bundle", "Assemble and verify approval bundles");
  bundle->require_subcommand(1);

  auto a = std::make_shared<AssembleArgs>();
  auto* asm_cmd =
      bundle->add_subcommand("assemble", "Put a proposal, its manifest and signatures into one bundle");
  asm_cmd->footer(
      "Refuses signatures made for another proposal and a manifest that does not hash to the proposal's.\n"
      "Whether the signatures meet the policy is checked by `bundle verify`.");
  asm_cmd->add_option("--proposal", a->proposal, "Proposal file")->required();
  asm_cmd->add_option("--manifest", a->manifest, "Manifest (or new policy) the proposal approves")
      ->required();
  asm_cmd
      ->add_option("SIGNATURE", a->signatures,
                   "Signature files (approvals, and vetoes from `countersign veto`)")
      ->required();
  asm_cmd->add_option("-o,--out", a->out, "Write the bundle here instead of standard output");
  asm_cmd->callback([&io = r.io, &rc = r.rc, a] { rc = assemble(io, *a); });

  auto v = std::make_shared<VerifyArgs>();
  auto* ver = bundle->add_subcommand("verify", "Check a bundle against a policy, as the box would");
  ver->footer(
      "Checks, in order: shape; manifest hash equals the proposal's; domain; box (with --box); expiry and\n"
      "creation time; then every signature (for this proposal, known key, algorithm, valid), one vote per\n"
      "approver, and the action's rule. The report names who counted, which signatures are invalid and\n"
      "why, and who is still missing. A rotate-policy bundle must also satisfy the new policy.\n\n"
      "Exit 0 only when the box would act; 1 when not approved; 2 for malformed input.\n"
      "--at judges expiry as of a past time, for audits of past decisions.");
  ver->add_option("--policy", v->policy, "Policy file (the box's root of trust)")->required();
  ver->add_option("--box", v->box, "Check that the proposal allows this box id");
  ver->add_option("--at", v->at, "Judge as of this RFC 3339 time instead of now");
  ver->add_option("--skew", v->skew, "Seconds a proposal's creation time may lie in the future")
      ->capture_default_str();
  ver->add_flag("--json", v->json, "Machine-readable report");
  ver->add_option("--attestation-root", v->attestation_roots,
                  "For require_attestation rules, also trust this root (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  ver->add_option("BUNDLE", v->bundle, "Bundle file, or - for standard input")->required();
  ver->callback([&io = r.io, &rc = r.rc, v] { rc = verify(io, *v); });
}

}  // namespace countersign::cli
