// The witness (core/witness.h), the witness quorum (core/witness_quorum.h) and C2SP tlog-proofs
// (core/tlog_proof.h): against the C2SP spec examples in tests/data/signed-note
// (c2sp-witness-examples.json) and the real sum.golang.org checkpoint of vectors.json, and by
// construction. The CLI tests (tests/cli/witness_cli_test.cpp) run whole logs through it.
#include "core/witness.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checkpoint.h"
#include "core/tlog_proof.h"
#include "core/witness_quorum.h"
#include "tests/test_util.h"

namespace countersign::witness {
namespace {

nlohmann::json data(const std::string& name) {
  std::ifstream f(std::string(COUNTERSIGN_TEST_DATA) + "/signed-note/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

// The real sum.golang.org checkpoint and its log key (vectors.json).
struct SumDb {
  std::string note;
  note::Verifier key;
};
SumDb sumdb() {
  for (const auto& v : data("vectors.json")) {
    if (v.contains("origin")) return {v["note"], *note::Verifier::parse(v["vkey"].get<std::string>())};
  }
  ADD_FAILURE() << "no checkpoint vector";
  std::abort();
}

TEST(WitnessSpecExamples, AddCheckpointRequestBodyParses) {
  const auto ex = data("c2sp-witness-examples.json")["tlog_witness_add_checkpoint_example"];
  auto r = Request::parse(ex["body"].get<std::string>());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->old_size, ex["old_size"].get<std::uint64_t>());
  EXPECT_EQ(r->proof.size(), ex["proof_lines"].get<std::size_t>());
  auto n = note::Note::parse(r->checkpoint);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->signatures().size(), 2u);
  EXPECT_EQ(Checkpoint::parse(n->text())->size, ex["size"].get<std::uint64_t>());
  EXPECT_EQ(r->serialize(), ex["body"].get<std::string>());  // byte for byte
}

TEST(WitnessSpecExamples, ResponseLinesAppendToTheCheckpoint) {
  // tlog-witness: "the client MAY concatenate it to the checkpoint".
  const auto ex = data("c2sp-witness-examples.json");
  auto r = Request::parse(ex["tlog_witness_add_checkpoint_example"]["body"].get<std::string>());
  ASSERT_TRUE(r.ok());
  auto n = note::Note::parse(r->checkpoint + ex["tlog_witness_response_example"]["body"].get<std::string>());
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->signatures().size(),
            2u + ex["tlog_witness_response_example"]["signatures"].get<std::size_t>());
}

TEST(WitnessSpecExamples, CosignatureExampleHasTheV1Layout) {
  const auto ex = data("c2sp-witness-examples.json")["tlog_cosignature_example"];
  auto n = note::Note::parse(ex["note"].get<std::string>());
  ASSERT_TRUE(n.ok()) << n.error().message;
  ASSERT_EQ(n->signatures().size(), 2u);
  const note::Signature& s = n->signatures()[1];
  EXPECT_EQ(s.name, ex["cosigner"]);
  char id[9];
  std::snprintf(id, sizeof id, "%08x", s.key_id);
  EXPECT_EQ(id, ex["key_id"].get<std::string>());
  ASSERT_EQ(s.signature.size(), 72u);  // u64 timestamp || Ed25519 signature
  std::uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts = (ts << 8) | s.signature[static_cast<std::size_t>(i)];
  EXPECT_EQ(ts, ex["timestamp"].get<std::uint64_t>());
  // Another key under the witness's name is not the witness: no cosignature by it.
  auto other = note::Signer::generate(ex["cosigner"], note::kTypeCosignatureV1);
  auto v = note::verify_cosignature(*n, other->verifier());
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("no cosignature by"), std::string::npos) << v.error().message;
}

TEST(RequestParse, RejectsWhatTheSpecForbids) {
  EXPECT_FALSE(Request::parse("old 01\n\nx\n").ok());  // leading zero
  EXPECT_FALSE(Request::parse("new 1\n\nx\n").ok());
  EXPECT_FALSE(Request::parse("old 1\nnot-base64!\n\nx\n").ok());
  EXPECT_FALSE(Request::parse("old 1\nAAAA\n\nx\n").ok());  // not 32 bytes
  std::string many = "old 1\n";
  for (int i = 0; i < 64; ++i) many += base64_encode(Digest{}) + "\n";
  auto r = Request::parse(many + "\nx\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("more than 63"), std::string::npos);
  EXPECT_FALSE(Request::parse(std::string(kMaxRequestSize + 1, 'a')).ok());
}

class WitnessTest : public ::testing::Test {
 protected:
  Witness open() {
    std::vector<LogKey> keys{{"go.sum database tree", db_.key}};
    auto w = Witness::open(dir_.string(), std::move(keys), *note::Signer::parse(skey_));
    EXPECT_TRUE(w.ok()) << w.error().message;
    return std::move(w).value();
  }
  test_util::TempDir tmp_{"witness"};
  std::filesystem::path dir_ = tmp_.path() / "state";
  SumDb db_ = sumdb();
  SecretBytes skey_ = note::Signer::generate("witness.test/w1", note::kTypeCosignatureV1)->skey();
};

TEST_F(WitnessTest, RealCheckpointOnFirstUseThenHttpStatusesOfTheSpec) {
  Witness w = open();
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  Request r{0, {}, db_.note, std::nullopt};
  auto first = w.add_checkpoint(r, 1700000000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->status, Status::kCosigned) << first->message;
  EXPECT_TRUE(first->first_seen);
  EXPECT_EQ(first->log_label, db_.key.label());
  // The cosignature line verifies on the checkpoint, with its timestamp.
  std::string cosigned = db_.note + first->cosignatures[0].line();
  auto ts = note::verify_cosignature(*note::Note::parse(cosigned), w.cosigner());
  ASSERT_TRUE(ts.ok()) << ts.error().message;
  EXPECT_EQ(*ts, 1700000000u);

  // Old size 0 again: 409 with the size it knows.
  auto again = w.add_checkpoint(r, 1700000001);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(http_status(again->status), 409);
  EXPECT_EQ(again->known_size, 6476701u);
  // The same checkpoint from its own size: cosigned again.
  r.old_size = 6476701;
  auto same = w.add_checkpoint(r, 1700000002);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->status, Status::kCosigned) << same->message;
  // Old size above the checkpoint's: 400.
  r.old_size = 6476702;
  EXPECT_EQ(http_status(w.add_checkpoint(r, 1)->status), 400);

  // Another root under the same signature: 403; an unknown origin: 404.
  std::string forged = db_.note;
  forged[forged.find("mb8Q")] = 'n';
  Request bad{6476701, {}, forged, std::nullopt};
  EXPECT_EQ(http_status(w.add_checkpoint(bad, 1)->status), 403);
  auto other = note::Signer::generate("other.example/log");
  std::string text = "other.example/log\n1\n" + base64_encode(Digest{}) + "\n";
  Request unknown{0, {}, text + "\n" + other->sign(text)->line(), std::nullopt};
  auto u = w.add_checkpoint(unknown, 1);
  EXPECT_EQ(http_status(u->status), 404);
  EXPECT_NE(u->message.find("no log key for origin \"other.example/log\""), std::string::npos) << u->message;
}

TEST_F(WitnessTest, StateThatNoLongerVerifiesStopsTheWitness) {
  Witness w = open();
  ASSERT_EQ(w.add_checkpoint({0, {}, db_.note, std::nullopt}, 1)->status, Status::kCosigned);
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "logs")) {
    std::string s = test_util::slurp(f.path());
    s[s.find("6476701")] = '7';
    test_util::spit(f.path(), s);
  }
  auto r = w.add_checkpoint({6476701, {}, db_.note, std::nullopt}, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kHashMismatch);
  EXPECT_NE(r.error().message.find("refusing to cosign"), std::string::npos) << r.error().message;
}

TEST(WitnessQuorum, CountsDistinctValidCosigners) {
  auto log = note::Signer::generate("box.test/audit");
  std::string text = "box.test/audit\n3\n" + base64_encode(Digest{}) + "\n";
  auto n = note::Note::from_text(text);
  n->add_signature(*log->sign(text));
  auto w1 = note::Signer::generate("w1.test", note::kTypeCosignatureV1);
  auto w2 = note::Signer::generate("w2.test", note::kTypeCosignatureV1);
  auto w3 = note::Signer::generate("w3.test", note::kTypeCosignatureV1);
  n->add_signature(*w1->cosign(text, 10));
  n->add_signature(*w2->cosign(text, 11));
  std::vector<note::Verifier> all{w1->verifier(), w2->verifier(), w3->verifier(), w1->verifier()};
  QuorumReport q = check_quorum(*n, all, 2);
  EXPECT_EQ(q.witnesses.size(), 3u);  // w1 given twice counts once
  EXPECT_EQ(q.valid, 2u);
  EXPECT_TRUE(require_quorum(q).ok());
  QuorumReport q3 = check_quorum(*n, all, 3);
  auto e = require_quorum(q3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::kRejected);
  EXPECT_NE(e.error().message.find("2 valid cosignature(s) of the 3 required"), std::string::npos);
  EXPECT_NE(e.error().message.find("no cosignature by " + w3->verifier().label()), std::string::npos)
      << e.error().message;

  // merge_cosignatures: the same checkpoint from two witnesses; another checkpoint refused.
  auto a = note::Note::from_text(text);
  a->add_signature(*log->sign(text));
  auto b = *a;
  a->add_signature(*w1->cosign(text, 10));
  b.add_signature(*w2->cosign(text, 11));
  auto m = merge_cosignatures(a->serialize(), {b.serialize(), b.serialize()}, {"b1", "b2"});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->signatures().size(), 3u);
  std::string text4 = "box.test/audit\n4\n" + base64_encode(Digest{}) + "\n";
  auto c = note::Note::from_text(text4);
  c->add_signature(*log->sign(text4));
  auto bad = merge_cosignatures(a->serialize(), {c->serialize()}, {"c.txt"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c.txt is about another checkpoint (size 4, not 3)"), std::string::npos)
      << bad.error().message;
}

TEST(TlogProof, RoundTripsAndRejectsMalformed) {
  audit::TlogProof p;
  p.extra = R"({"event":"x","seq":0,"time":"2026-01-01T00:00:00Z"})";
  p.index = 7;
  p.proof = {Bytes(32, 1), Bytes(32, 2)};
  p.checkpoint = "o\n8\n" + base64_encode(Digest{}) + "\n\n\xe2\x80\x94 o AAAAAAA=\n";
  std::string s = p.serialize();
  EXPECT_TRUE(audit::is_tlog_proof(s));
  EXPECT_EQ(s.substr(0, 23), "c2sp.org/tlog-proof@v1\n");
  auto q = audit::TlogProof::parse(s);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->extra, p.extra);
  EXPECT_EQ(q->index, 7u);
  EXPECT_EQ(q->proof, p.proof);
  EXPECT_EQ(q->serialize(), s);
  EXPECT_FALSE(audit::is_tlog_proof("{\"schema\":1}"));
  EXPECT_FALSE(audit::TlogProof::parse("c2sp.org/tlog-proof@v2\nindex 1\n\n" + p.checkpoint).ok());
  EXPECT_FALSE(audit::TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 01\n\n" + p.checkpoint).ok());
  EXPECT_FALSE(audit::TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + p.checkpoint).ok());
  auto no_extra = audit::TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\n\n" + p.checkpoint);
  ASSERT_TRUE(no_extra.ok());
  auto key = note::Signer::generate("o");
  auto c = audit::check_tlog_proof(*no_extra, key->verifier());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("no \"extra\" line"), std::string::npos);
}

}  // namespace
}  // namespace countersign::witness
