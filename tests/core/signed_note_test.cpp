// C2SP signed notes, checkpoints and cosignatures, against the vectors in
// tests/data/signed-note/vectors.json (byte for byte) and by construction.
#include "core/signed_note.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/checkpoint.h"

namespace countersign::note {
namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(COUNTERSIGN_TEST_DATA) + "/signed-note/vectors.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

SecretBytes secret(std::string_view s) { return SecretBytes::copy_of(as_bytes(s)); }

TEST(SignedNoteVectors, VerifyAndRoundTripByteForByte) {
  int run = 0;
  for (const auto& v : vectors()) {
    SCOPED_TRACE(v["source"].get<std::string>());
    const std::string vkey = v["vkey"];
    const std::string text = v["note"];
    auto key = Verifier::parse(vkey);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(key->vkey(), vkey);
    EXPECT_EQ(key->type(), kTypeEd25519);
    EXPECT_EQ(key_id(key->name(), kTypeEd25519, key->public_key()), key->key_id());
    auto n = Note::parse(text);
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_EQ(n->serialize(), text);
    EXPECT_EQ(verify(*n, *key).ok(), v["valid"].get<bool>());
    if (v.contains("origin")) {
      auto cp = Checkpoint::parse(n->text());
      ASSERT_TRUE(cp.ok()) << cp.error().message;
      EXPECT_EQ(cp->origin, v["origin"].get<std::string>());
      EXPECT_EQ(cp->size, v["size"].get<std::uint64_t>());
      EXPECT_EQ(cp->to_text(), n->text());
    }
    if (v.contains("skey")) {
      // Ed25519 is deterministic: our signer must reproduce the vector's note exactly.
      auto signer = Signer::parse(secret(v["skey"].get<std::string>()));
      ASSERT_TRUE(signer.ok()) << signer.error().message;
      EXPECT_EQ(signer->verifier().vkey(), vkey);
      SecretBytes sk = signer->skey();
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(sk.data()), sk.size()),
                v["skey"].get<std::string>() + "\n");
      auto fresh = Note::from_text(n->text());
      ASSERT_TRUE(fresh.ok());
      fresh->add_signature(*signer->sign(fresh->text()));
      EXPECT_EQ(fresh->serialize(), text);
    }
    ++run;
  }
  EXPECT_EQ(run, 3);
}

TEST(SignedNoteVectors, KeyIdOfSpecExample) {
  auto key = Verifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->key_id(), 0x530d903au);
  EXPECT_EQ(key->label(), "example.com/foo+530d903a");
  // A wrong key id in the vkey text is refused.
  auto wrong = Verifier::parse("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("key id"), std::string::npos);
}

class SignedNoteTest : public ::testing::Test {
 protected:
  Signer log_ = *Signer::generate("box.example/log");
  std::string text_ = "box.example/log\n3\n" + std::string(44, 'A').replace(43, 1, "=") + "\n";

  std::string signed_note() {
    auto n = Note::from_text(text_);
    n->add_signature(*log_.sign(text_));
    return n->serialize();
  }
};

TEST_F(SignedNoteTest, TamperedTextFails) {
  std::string s = signed_note();
  s[17] = '4';  // the tree size
  auto n = Note::parse(s);
  ASSERT_TRUE(n.ok());
  auto r = verify(*n, log_.verifier());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_NE(r.error().message.find("does not verify"), std::string::npos);
}

TEST_F(SignedNoteTest, OtherKeysAreIgnoredButNeeded) {
  auto other = *Signer::generate("box.example/log");  // same name, other key id
  auto n = *Note::parse(signed_note());
  n.add_signature(*other.sign(n.text()));
  EXPECT_TRUE(verify(n, log_.verifier()).ok());
  EXPECT_TRUE(verify(n, other.verifier()).ok());
  auto only_other = *Note::from_text(text_);
  only_other.add_signature(*other.sign(text_));
  auto miss = verify(only_other, log_.verifier());
  ASSERT_FALSE(miss.ok());
  EXPECT_NE(miss.error().message.find("no signature by " + log_.verifier().label()), std::string::npos);
}

TEST_F(SignedNoteTest, ForgedSignatureUnderTheRightNameAndIdFails) {
  auto n = *Note::from_text(text_);
  Signature forged{log_.verifier().name(), log_.verifier().key_id(), Bytes(64, 0x42)};
  n.add_signature(forged);
  n.add_signature(*log_.sign(text_));  // a good one does not excuse a bad one
  EXPECT_FALSE(verify(n, log_.verifier()).ok());
}

TEST_F(SignedNoteTest, ParseRejectsMalformedNotes) {
  const std::string good = signed_note();
  const std::string sig_line = good.substr(good.rfind("\n\n") + 2);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "newline"},
      {text_, "blank line"},
      {text_ + "\n", "no signature"},
      {text_ + "\n" + sig_line.substr(0, sig_line.size() - 1), "newline"},
      {"a\x01"
       "b\n\n" +
           sig_line,
       "control character"},
      {"a\xff\n\n" + sig_line, "UTF-8"},
      {text_ + "\n- box.example/log AAAAAAA=\n", "does not start"},
      {text_ + "\n\xe2\x80\x94 box+log AAAAAAAA\n", "invalid key name"},
      {text_ + "\n\xe2\x80\x94 box.example/log AAAA\n", "shorter"},
      {text_ + "\n\xe2\x80\x94 box.example/log not-base64!\n", "base64"},
      {text_ + "\n\xe2\x80\x94 box.example/log\n", "no space"},
  };
  for (const auto& [note, why] : bad) {
    auto r = Note::parse(note);
    ASSERT_FALSE(r.ok()) << note;
    EXPECT_EQ(r.error().code, Errc::kMalformed);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  }
  std::string many = text_ + "\n";
  for (std::size_t i = 0; i <= kMaxSignatures; ++i) many += sig_line;
  EXPECT_FALSE(Note::parse(many).ok());
  EXPECT_FALSE(is_valid_key_name("a b"));
  EXPECT_FALSE(
      is_valid_key_name("a\xc2\xa0"
                        "b"));  // U+00A0
  EXPECT_TRUE(is_valid_key_name("box.example/log"));
}

TEST_F(SignedNoteTest, SkeyRoundTripsAndRejectsGarbage) {
  SecretBytes sk = log_.skey();
  auto again = Signer::parse(sk);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->verifier().vkey(), log_.verifier().vkey());
  // Many keys, so that base64 holding '+' is certainly among them.
  for (int i = 0; i < 64; ++i) {
    auto k = *Signer::generate("box.example/log" + std::to_string(i));
    auto v = Verifier::parse(k.verifier().vkey());
    ASSERT_TRUE(v.ok()) << k.verifier().vkey();
    EXPECT_EQ(v->public_key(), k.verifier().public_key());
    auto back = Signer::parse(k.skey());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->verifier().vkey(), k.verifier().vkey());
  }
  EXPECT_FALSE(Signer::parse(secret("PRIVATE+KEY+x+00000000+AAAA")).ok());
  EXPECT_FALSE(Signer::parse(secret("box.example/log+00000000+AAAA")).ok());
}

TEST(Cosignature, SignAndVerifyTlogCosignatureV1) {
  auto log = *Signer::generate("box.example/log");
  auto witness = *Signer::generate("auditor.example/w1", kTypeCosignatureV1);
  const std::string wv = witness.verifier().vkey();  // name+id+base64; the base64 may hold '+'
  EXPECT_EQ(base64_decode(wv.substr(wv.find('+', wv.find('+') + 1) + 1))->at(0), 0x04);
  EXPECT_EQ(Verifier::parse(wv)->key_id(), witness.verifier().key_id());
  const std::string text = "box.example/log\n2\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  auto n = *Note::from_text(text);
  n.add_signature(*log.sign(text));
  n.add_signature(*witness.cosign(text, 1679315147));
  auto parsed = *Note::parse(n.serialize());
  EXPECT_TRUE(verify(parsed, log.verifier()).ok());
  auto ts = verify_cosignature(parsed, witness.verifier());
  ASSERT_TRUE(ts.ok()) << ts.error().message;
  EXPECT_EQ(*ts, 1679315147u);

  // The signed message is exactly "cosignature/v1\ntime <t>\n" || note text.
  const Signature& cs = parsed.signatures()[1];
  ASSERT_EQ(cs.signature.size(), 72u);
  std::string msg = "cosignature/v1\ntime 1679315147\n" + text;
  EXPECT_EQ(
      crypto_sign_verify_detached(cs.signature.data() + 8, reinterpret_cast<const unsigned char*>(msg.data()),
                                  msg.size(), witness.verifier().public_key().data()),
      0);
  // Key id uses type 0x04.
  EXPECT_EQ(cs.key_id, key_id("auditor.example/w1", 0x04, witness.verifier().public_key()));

  // A changed timestamp or text fails; a log signature is not a cosignature.
  Signature t = cs;
  t.signature[7] ^= 1;
  auto n2 = *Note::from_text(text);
  n2.add_signature(t);
  EXPECT_FALSE(verify_cosignature(n2, witness.verifier()).ok());
  EXPECT_FALSE(verify_cosignature(parsed, log.verifier()).ok());
  EXPECT_FALSE(log.cosign(text, 1).ok());
  EXPECT_FALSE(witness.sign(text).ok());
}

TEST(CheckpointText, ParseRules) {
  EXPECT_TRUE(Checkpoint::parse("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n").ok());
  auto ext = Checkpoint::parse("o\n10\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextra\n");
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->extensions.size(), 1u);
  for (const char* bad : {"o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
                          "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "o\n1\nAAAA\n", "o\n1\n",
                          "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
                          "o\n99999999999999999999\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
                          "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nx\n"}) {
    EXPECT_FALSE(Checkpoint::parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace countersign::note
