// countersign attest verify: an AWS Nitro Enclaves attestation document checked offline, as an
// auditor would on an air-gapped laptop (docs/attestation.md, DESIGN.md "Policy", `images`).
//
// What it checks, in order: the document (COSE_Sign1, ES384, the chain to the pinned AWS Nitro
// Enclaves root valid at --at or now: smartcard/nitro.h), then against the policy which approved
// image it shows (never a debug-mode enclave: smartcard/nitro_binding.h match_image), whether
// its user_data binds the given box, log key and TLS key (check_binding), and whether its nonce
// is the one asked for. Every text from the document is shown through escape_untrusted.

#include <algorithm>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/attest_inputs.h"
#include "cli/cli.h"
#include "cli/load.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/untrusted_text.h"
#include "core/x509.h"
#include "smartcard/nitro.h"
#include "smartcard/nitro_binding.h"

namespace countersign::cli {

namespace {

// A base64 document of kMaxDocument bytes, with line breaks.
constexpr std::uint64_t kMaxDocumentFile = 2 * nitro::kMaxDocument;
constexpr std::size_t kShownBytes = 32;  // of user_data and public_key in the text report

struct VerifyArgs {
  std::string document, policy, box_id, log_key, tls_key, nonce, at, root;
  bool json = false;
};

}  // namespace

Result<Bytes> read_attestation_document(Io& io, const std::string& path) {
  const std::string name = path == "-" ? "standard input" : path;
  CS_TRY(std::string text, read_file_or_stdin(path, io.in, kMaxDocumentFile));
  return nitro::document_from_file_text(text, name);
}

Result<Bytes> read_log_key_spki(const std::string& arg) {
  auto v = load_verifier(arg);
  if (!v.ok()) return v.error().with_context("--log-key");
  auto spki = nitro::log_key_spki(*v);
  if (!spki.ok()) return spki.error().with_context("--log-key " + arg);
  return spki;
}

Result<Bytes> read_tls_key_spki(const std::string& path) {
  auto spki = x509::read_spki(path);
  if (!spki.ok()) return spki.error().with_context("--tls-key");
  return spki;
}

namespace {

std::string short_hex(ByteView b) {
  if (b.size() <= kShownBytes) return hex_encode(b);
  return hex_encode(b.subspan(0, kShownBytes)) + "... (" + std::to_string(b.size()) + " bytes)";
}

nlohmann::json hex_or_null(const std::optional<Bytes>& b) {
  return b ? nlohmann::json(hex_encode(*b)) : nlohmann::json();
}

// Every PCR an aws-nitro image lists that the document does not have with the same value: for
// showing; the verdict is match_image's.
struct PcrDifference {
  unsigned index;
  std::optional<nitro::Pcr> document;
  Bytes image;
};
std::vector<PcrDifference> differences(const nitro::Report& report, const Image& image) {
  std::vector<PcrDifference> out;
  for (const auto& [index, value] : image.pcrs) {
    const auto it = report.pcrs.find(index);
    if (it == report.pcrs.end()) {
      out.push_back({index, std::nullopt, value});
    } else if (!std::equal(value.begin(), value.end(), it->second.begin(), it->second.end())) {
      out.push_back({index, it->second, value});
    }
  }
  return out;
}

std::string pcr_list(const Image& image) {
  std::string out;
  for (const auto& [index, value] : image.pcrs) out += (out.empty() ? "" : ", ") + std::to_string(index);
  return out;
}

// The document failed verification: say why, and how to check old evidence.
int report_invalid(Io& io, const VerifyArgs& a, const nitro::Document& claimed, const Error& e) {
  const UnixTime claimed_at = claimed.timestamp_ms / 1000;
  std::string hint;
  if (e.code == Errc::kRejected && a.at != format_rfc3339(claimed_at)) {
    hint = "The document says it was made at " + format_rfc3339(claimed_at) +
           " (not verified). Its leaf certificate is valid for hours, the intermediates for days: to "
           "check it as evidence of that time, add --at " +
           format_rfc3339(claimed_at) + ".";
  }
  if (a.json) {
    print_json(io, {{"valid", false},
                    {"approved", false},
                    {"error", {{"code", errc_name(e.code)}, {"message", e.message}}},
                    {"claimed_timestamp", format_rfc3339(claimed_at)},
                    {"claimed_module_id", escape_untrusted(claimed.module_id)},
                    {"hint", hint.empty() ? nlohmann::json() : nlohmann::json(hint)}});
    return exit_code_for(e);
  }
  std::ostringstream o;
  o << "NOT VALID: this attestation document does not verify; nothing in it can be believed.\n"
    << "Reason        " << e.message << "\n";
  if (!hint.empty()) o << "\n" << hint << "\n";
  io.out << o.str();
  return exit_code_for(e);
}

int verify(Io& io, const VerifyArgs& a) {
  // Usage first: nothing is read when the command line cannot be right.
  if (!a.box_id.empty() && a.log_key.empty()) {
    return report_error(io,
                        make_error(Errc::kInvalidArgument,
                                   "--box-id needs --log-key: the binding covers the box id and its log key"),
                        a.json);
  }
  if (a.box_id.empty() && (!a.log_key.empty() || !a.tls_key.empty())) {
    return report_error(
        io, make_error(Errc::kInvalidArgument, "--log-key and --tls-key check a binding: give --box-id too"),
        a.json);
  }
  UnixTime at = io.now();
  if (!a.at.empty()) {
    auto t = parse_rfc3339(a.at);
    if (!t.ok()) return report_error(io, Error(Errc::kInvalidArgument, "--at: " + t.error().message), a.json);
    at = *t;
  }
  std::optional<Bytes> nonce;
  if (!a.nonce.empty()) {
    auto n = hex_decode(a.nonce);
    if (!n.ok())
      return report_error(io, Error(Errc::kInvalidArgument, "--nonce: " + n.error().message), a.json);
    nonce = std::move(n).value();
  }
  std::optional<Bytes> log_spki, tls_spki;
  if (!a.log_key.empty()) {
    auto k = read_log_key_spki(a.log_key);
    if (!k.ok()) return report_error(io, k.error(), a.json);
    log_spki = std::move(k).value();
  }
  if (!a.tls_key.empty()) {
    auto k = read_tls_key_spki(a.tls_key);
    if (!k.ok()) return report_error(io, k.error(), a.json);
    tls_spki = std::move(k).value();
  }
  std::vector<Bytes> roots = nitro::pinned_roots();
  if (!a.root.empty()) {
    auto r = x509::read_certificates(a.root);
    if (!r.ok()) return report_error(io, r.error().with_context("--root"), a.json);
    if (r->empty())
      return report_error(io, Error(Errc::kMalformed, "--root " + a.root + ": no certificate"), a.json);
    roots = std::move(r).value();
  }
  auto policy = load_document<Policy>(io, a.policy);
  if (!policy.ok()) return report_error(io, policy.error(), a.json);

  auto raw = read_attestation_document(io, a.document);
  if (!raw.ok()) return report_error(io, raw.error(), a.json);
  const std::string name = a.document == "-" ? "standard input" : a.document;
  auto claimed = nitro::parse(*raw);
  if (!claimed.ok()) return report_error(io, claimed.error().with_context(name), a.json);
  auto verified = nitro::verify(*raw, roots, at);
  if (!verified.ok()) return report_invalid(io, a, *claimed, verified.error());
  const nitro::Report& rep = *verified;

  auto image = nitro::match_image(rep, *policy);
  std::optional<Result<void>> bound;
  if (!a.box_id.empty()) {
    bound = nitro::check_binding(rep, a.box_id, *log_spki,
                                 tls_spki ? std::optional<ByteView>(*tls_spki) : std::nullopt);
  }
  std::optional<bool> nonce_ok;
  if (nonce) nonce_ok = rep.nonce && *rep.nonce == *nonce;
  std::optional<nitro::BoxKeys> box_keys;
  if (!a.box_id.empty()) box_keys = nitro::BoxKeys{a.box_id, *log_spki, tls_spki};
  const nitro::Verdict verdict = nitro::judge(*raw, *policy, roots, at, io.now(), box_keys, nonce);
  const bool approved = verdict.approved;
  const UnixTime attested = rep.timestamp_ms / 1000;
  const std::string root_name = a.root.empty() ? "the pinned AWS Nitro Enclaves root" : a.root + " (--root)";
  const std::string box = escape_untrusted(a.box_id);

  if (a.json) {
    nlohmann::json pcrs = nlohmann::json::object();
    for (const auto& [i, v] : rep.pcrs) pcrs[std::to_string(i)] = hex_encode(v);
    nlohmann::json candidates = nlohmann::json::array();
    for (const Image& img : policy->images()) {
      if (img.platform != "aws-nitro") continue;
      nlohmann::json differ = nlohmann::json::array();
      for (const auto& d : differences(rep, img)) {
        differ.push_back(
            {{"pcr", d.index},
             {"document", d.document ? nlohmann::json(hex_encode(*d.document)) : nlohmann::json()},
             {"image", hex_encode(d.image)}});
      }
      candidates.push_back({{"name", escape_untrusted(img.name)}, {"differs", differ}});
    }
    nlohmann::json out{
        {"valid", true},
        {"approved", approved},
        {"checked_at", format_rfc3339(at)},
        {"root", a.root.empty() ? nlohmann::json("pinned") : nlohmann::json(a.root)},
        {"module_id", escape_untrusted(rep.module_id)},
        {"leaf_subject", escape_untrusted(rep.leaf_subject)},
        {"timestamp", format_rfc3339(attested)},
        {"timestamp_ms", rep.timestamp_ms},
        {"debug", rep.debug},
        {"pcrs", pcrs},
        {"public_key", hex_or_null(rep.public_key)},
        {"user_data", hex_or_null(rep.user_data)},
        {"nonce", hex_or_null(rep.nonce)},
        {"image",
         {{"name", image.ok() ? nlohmann::json(escape_untrusted((*image)->name)) : nlohmann::json()},
          {"reason", image.ok() ? nlohmann::json() : nlohmann::json(image.error().message)},
          {"candidates", candidates}}},
        {"box", bound ? nlohmann::json{{"id", box},
                                       {"tls_key", tls_spki.has_value()},
                                       {"bound", bound->ok()},
                                       {"reason", bound->ok() ? nlohmann::json()
                                                              : nlohmann::json(bound->error().message)}}
                      : nlohmann::json()},
        {"nonce_matches", nonce_ok ? nlohmann::json(*nonce_ok) : nlohmann::json()}};
    print_json(io, out);
    return approved ? kExitOk : kExitFailed;
  }

  std::ostringstream o;
  if (approved) {
    o << "APPROVED: " << verdict.line << "\n";
  } else {
    o << "NOT APPROVED: " << verdict.line << "\n";
  }
  if (!a.root.empty()) {
    o << "WARNING: the chain was checked against " << a.root
      << " (--root), not the pinned AWS Nitro Enclaves root: this proves nothing about AWS hardware\n";
  }
  o << "\nDocument      valid: ES384 signature by " << escape_untrusted(rep.leaf_subject) << ",\n"
    << "              its certificate chain verified to " << root_name << " at " << format_rfc3339(at)
    << "\n";
  o << "Module        " << escape_untrusted(rep.module_id, nitro::kMaxModuleId) << "\n";
  o << "Attested      " << format_rfc3339(attested) << " (" << format_age(attested, io.now()) << ")\n";
  if (rep.debug) {
    o << "Mode          DEBUG MODE (PCRs 0, 1 and 2 are zero): the parent instance could read and change the "
         "enclave's memory; never an approved image\n";
  } else {
    o << "Mode          production (not debug mode)\n";
  }
  o << "Image         ";
  if (image.ok()) {
    o << "approved image " << escape_untrusted((*image)->name) << " (PCRs " << pcr_list(**image)
      << " equal)\n";
  } else {
    o << (rep.debug ? "none: a debug-mode enclave matches no image\n" : "matches no approved image\n");
  }
  for (const Image& img : policy->images()) {
    if (img.platform != "aws-nitro" || (image.ok() && *image == &img)) continue;
    const auto diff = differences(rep, img);
    o << "  " << escape_untrusted(img.name) << ": ";
    if (diff.empty()) o << "PCRs " << pcr_list(img) << " equal";
    for (std::size_t i = 0; i < diff.size(); ++i) {
      o << (i ? "; " : "") << "PCR " << diff[i].index << " "
        << (diff[i].document ? "differs (document " + hex_encode(*diff[i].document) + ", image " +
                                   hex_encode(diff[i].image) + ")"
                             : "missing from the document");
    }
    o << "\n";
  }
  o << "Box           ";
  if (!bound) {
    o << "not checked (give --box-id and --log-key to check that the document binds the box)\n";
  } else if (bound->ok()) {
    o << "user_data binds box " << box << ", this log key" << (tls_spki ? " and this TLS key" : "")
      << (tls_spki ? "\n" : " (no TLS key: the binding says the box has none)\n");
  } else {
    o << "NOT BOUND: " << bound->error().message << "\n";
  }
  o << "Nonce         ";
  if (!nonce_ok) {
    o << "not checked (give --nonce to check that this document answers your request)\n";
  } else if (*nonce_ok) {
    o << "matches " << hex_encode(*nonce) << "\n";
  } else {
    o << "DIFFERS: the document's is " << (rep.nonce ? short_hex(*rep.nonce) : std::string("absent"))
      << ", not " << hex_encode(*nonce) << "\n";
  }
  o << "\nPCRs\n";
  for (const auto& [i, v] : rep.pcrs) o << "  " << (i < 10 ? " " : "") << i << "  " << hex_encode(v) << "\n";
  o << "Public key    " << (rep.public_key ? short_hex(*rep.public_key) : "none") << "\n";
  o << "User data     " << (rep.user_data ? short_hex(*rep.user_data) : "none") << "\n";
  o << "Nonce value   " << (rep.nonce ? short_hex(*rep.nonce) : "none") << "\n";
  io.out << o.str();
  return approved ? kExitOk : kExitFailed;
}

}  // namespace

void add_attest_commands(Registry& r) {
  auto* attest = r.app.add_subcommand("attest", "Check a box's hardware attestation (AWS Nitro Enclaves)");
  attest->require_subcommand(1);

  auto v = std::make_shared<VerifyArgs>();
  auto* ver = attest->add_subcommand(
      "verify", "Say whether an attestation document shows an approved image and binds the box, offline");
  ver->footer(
      "Example: check a document the box made for your nonce, before you sign for it:\n"
      "  countersign attest verify att.cbor --policy policy.json --box-id box-7f3a \\\n"
      "      --log-key box-log.pub --tls-key box-tls.pem --nonce 8f1c2a...\n"
      "Evidence kept from an earlier day (its certificates live for hours to days): add --at, e.g.\n"
      "  countersign attest verify att.cbor --policy policy.json --at 2026-11-22T11:02:10Z\n\n"
      "Checks, in order: the COSE_Sign1 document (ES384 only, every field bounded); its certificate\n"
      "chain to the AWS Nitro Enclaves root compiled in, valid at --at or now; its signature; then\n"
      "which of the policy's `images` its PCRs match (every listed PCR equal; a debug-mode enclave,\n"
      "PCRs 0-2 zero, matches none); with --box-id, that user_data is SHA-256 of the JCS of\n"
      "{box, log_key, tls_key} (DESIGN.md); with --nonce, that the nonce is yours.\n"
      "It proves which image runs, not that the image is good: that is what the reproducible build\n"
      "and the approvers are for (docs/attestation.md).\n\n"
      "Exit 0: valid, an approved image, and (when asked) bound to the box with your nonce.\n"
      "Exit 1: not approved (invalid signature, expired or foreign chain, no image, debug mode, another\n"
      "        box or key, another nonce). Exit 2: usage, unreadable or malformed file or policy.");
  ver->add_option("DOCUMENT", v->document,
                  "Attestation document: CBOR or its base64, or - for standard input")
      ->required();
  ver->add_option("--policy", v->policy, "Policy listing the approved images")->required();
  ver->add_option("--box-id", v->box_id, "Check that user_data binds this box (needs --log-key)");
  ver->add_option("--log-key", v->log_key, "The box's log verifier key (vkey file, as for `log verify`)");
  ver->add_option("--tls-key", v->tls_key,
                  "The box API's TLS certificate or PEM public key (absent: the binding must have none)");
  ver->add_option("--nonce", v->nonce, "Hex nonce the document must carry (the one you asked the box for)");
  ver->add_option("--at", v->at, "Check the certificate chain as of this RFC 3339 time instead of now");
  ver->add_option("--root", v->root,
                  "Trust this root (PEM or DER) instead of the pinned AWS one: for test enclaves only");
  ver->add_flag("--json", v->json, "Machine-readable report");
  ver->callback([&io = r.io, &rc = r.rc, v] { rc = verify(io, *v); });
}

}  // namespace countersign::cli
