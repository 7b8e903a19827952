// countersign-app: what a person sees after opening fixture files, signing with a software
// key, a FIDO2 key (virtual-fido2) or a PIV card (the virtual card behind the real pcscd),
// dropping signatures and exporting a bundle, verifying, and diffing 100,000 files.
#include <QApplication>
#include <QCoreApplication>
#include <QDir>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QMimeData>
#include <QProgressDialog>
#include <QSettings>
#include <QThread>
#include <QTimer>
#include <QUrl>
#include <filesystem>
#include <fstream>
#include <optional>

#include <gtest/gtest.h>

#include "app/collect_view.h"
#include "app/diff_view.h"
#include "app/log_view.h"
#include "app/main_window.h"
#include "app/model/fingerprint.h"
#include "app/policy_view.h"
#include "app/review_view.h"
#include "app/secret_dialog.h"
#include "app/sign_view.h"
#include "app/ui_util.h"
#include "app/verify_view.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/review.h"
#include "core/x509.h"
#include "smartcard/fido2_unix_socket.h"
#include "smartcard/nitro.h"
#include "tests/app/app_fixture.h"
#include "tests/daemon/integration.h"
#include "tests/nitro_test_box.h"
#include "tests/smartcard/piv/card_state.h"
#include "tests/smartcard/piv/pcsc_fixture.h"
#include "tests/test_util.h"
#include "tests/tools/virtual_key_process.h"

namespace countersign::app {
namespace {

using app_fixture::must;
using test_util::contains;

// 2026-11-22T10:00:00Z: the fixture's proposal is made an hour before and expires in 7 days.
constexpr UnixTime kNow = 1795341600;

std::string s(const QString& text) { return text.toStdString(); }

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QSettings().clear();
    errors_.clear();
    set_error_sink([this](const QString& e) { errors_ << e; });
    fx_ = app_fixture::make(dir_.path().string(), kNow - 3600 + 3600);
    window_ = std::make_unique<MainWindow>();
    window_->session().set_clock([] { return kNow; });
  }
  void TearDown() override { set_error_sink(nullptr); }

  int open(std::initializer_list<std::string> paths) {
    QStringList list;
    for (const auto& p : paths) list << QString::fromStdString(p);
    return window_->open_files(list);
  }

  // Sends a drop of `paths` onto the main window, as a file manager would.
  void drop(const std::vector<std::string>& paths) {
    QMimeData mime;
    QList<QUrl> urls;
    for (const auto& p : paths) urls << QUrl::fromLocalFile(QString::fromStdString(p));
    mime.setUrls(urls);
    // Qt delivers a drop only to the widget that accepted the drag's enter event.
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(window_.get(), &enter);
    ASSERT_TRUE(enter.isAccepted());
    QDropEvent event(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(window_.get(), &event);
  }

  // The fixture policy with `key` as erin's only key, written to policy-erin.json. Returns
  // its path.
  std::string policy_with_erin_key(const PolicyKey& key) {
    nlohmann::json policy = must(jcs::parse(test_util::slurp(fx_.policy)), "policy json");
    policy["approvers"][4]["keys"] = nlohmann::json::array({policy_key_to_json(key)});
    const std::string path = dir_.file("policy-erin.json");
    app_fixture::must_ok(write_file_atomic(path, to_pretty_json(policy)), "write policy");
    return path;
  }

  // Enrols a credential for erin on the virtual key listening on `socket`. The virtual key
  // serves one connection at a time: the enrolment's is closed before the app's.
  static PolicyKey enrol_erin(const std::string& socket, bool uv = false, const SecretBytes* pin = nullptr) {
    fido2::MakeCredentialRequest req;
    req.uv = uv;
    req.user_name = "erin";
    auto dev = must(fido2::open_device("unix:" + socket), "open virtual key");
    return must(dev.make_credential(req, pin), "enrol");
  }

  test_util::TempDir dir_{"app"};
  app_fixture::Fixture fx_;
  std::unique_ptr<MainWindow> window_;
  QStringList errors_;
};

TEST(Fingerprint, GroupsTheHexAndAddsSixWords) {
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i);
  const Fingerprint f = fingerprint(d);
  EXPECT_EQ(f.hex_groups.substr(0, 20), "0001 0203 0405 0607 ");
  EXPECT_EQ(f.hex_groups.size(), 64u + 15u);
  ASSERT_EQ(f.words.size(), 6u);
  // Bits 0-9 of 00 01 02 ... are 0000000000 -> word 0 of SLIP-0039; bits 10-19 are
  // 000001 0000 -> word 16.
  EXPECT_EQ(f.words[0], "academic");
  EXPECT_EQ(f.words[1], "again");
  Digest other = d;
  other[0] ^= 0x80;
  EXPECT_NE(fingerprint(other).words[0], f.words[0]);
  EXPECT_EQ(fingerprint(other).words[1], f.words[1]);
}

// Types into the SecretDialog that ask() opens, then presses OK (accept) or Cancel.
std::optional<SecretBytes> answer_secret_dialog(const QString& typed, bool accept, QLineEdit::EchoMode* mode,
                                                QString* kept = nullptr) {
  // Polls until the dialog is up (exec() shows it, then runs its own event loop).
  auto* poll = new QTimer();
  QObject::connect(poll, &QTimer::timeout, poll, [poll, typed, accept, mode, kept] {
    SecretDialog* dialog = nullptr;
    for (QWidget* w : QApplication::topLevelWidgets()) {
      if (auto* d = qobject_cast<SecretDialog*>(w); d != nullptr && d->isVisible()) dialog = d;
    }
    if (dialog == nullptr) return;
    poll->stop();
    poll->deleteLater();
    auto* edit = dialog->findChild<QLineEdit*>();
    if (edit == nullptr) {
      ADD_FAILURE() << "no line edit in the dialog";
      dialog->reject();
      return;
    }
    *mode = edit->echoMode();
    QString heap = typed;
    heap.detach();  // a heap buffer, as typing makes, not the literal's static data
    edit->setText(heap);
    if (kept != nullptr) *kept = edit->text();  // shares the line edit's buffer
    if (accept) {
      dialog->accept();
    } else {
      dialog->reject();
    }
  });
  poll->start(10);
  return SecretDialog::ask(nullptr, QStringLiteral("Passphrase"), QStringLiteral("Passphrase for alice.key"),
                           3);
}

TEST(SecretDialogTest, MasksTheEntryAndHandsOverTheSecretOnlyOnOk) {
  QLineEdit::EchoMode mode = QLineEdit::Normal;
  auto ok = answer_secret_dialog(QStringLiteral("correct horse ✓"), true, &mode);
  EXPECT_EQ(mode, QLineEdit::Password);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ok->data()), ok->size()), "correct horse ✓");
  EXPECT_FALSE(answer_secret_dialog(QStringLiteral("typed then cancelled"), false, &mode).has_value());
  EXPECT_FALSE(answer_secret_dialog(QString(), true, &mode).has_value());  // empty is no answer
  // The line edit's buffer is wiped in place once the secret is taken.
  QString kept;
  ASSERT_TRUE(answer_secret_dialog(QStringLiteral("hunter2"), true, &mode, &kept).has_value());
  ASSERT_EQ(kept.size(), 7);
  EXPECT_EQ(kept, QString(7, QChar(0))) << s(kept);
}

TEST_F(AppTest, RecognisesEachKindFromTheSchemaOrShape) {
  const std::vector<std::pair<std::string, DocKind>> cases = {
      {fx_.proposal, DocKind::kProposal},    {fx_.manifest, DocKind::kManifest},
      {fx_.bundle, DocKind::kBundle},        {fx_.signatures[0], DocKind::kSignature},
      {fx_.policy, DocKind::kPolicy},        {fx_.log, DocKind::kAuditExport},
      {fx_.checkpoint, DocKind::kCheckpoint}};
  for (const auto& [path, kind] : cases) {
    auto doc = load_document(path);
    ASSERT_TRUE(doc.ok()) << path << ": " << doc.error().message;
    EXPECT_EQ(doc->kind, kind) << path;
  }
  auto unknown = detect_kind(R"({"schema":"countersign/other/v9"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kUnknownSchema);
  EXPECT_TRUE(contains(unknown.error().message, "countersign/other/v9"));
  EXPECT_FALSE(detect_kind("not json at all").ok());
}

// Untrusted text: a note holding "erase line, cursor up" and a bidi override is drawn as markers,
// never interpreted by Qt's layout; so is a manifest description.
TEST_F(AppTest, ReviewShowsUntrustedTextEscaped) {
  auto original = Proposal::parse(*jcs::parse(test_util::slurp(fx_.proposal)));
  ASSERT_TRUE(original.ok());
  Proposal::Fields pf = original->fields();
  pf.note =
      "ship it\r\x1b[2K\x1b[1A invoice_\xe2\x80\xae"
      "fdp.exe";
  const Proposal p = must(Proposal::create(pf), "proposal");
  const std::string path = dir_.file("attack-proposal.json");
  ASSERT_TRUE(write_file_atomic(path, to_pretty_json(p.to_json())).ok());
  ASSERT_EQ(open({path, fx_.manifest}), 2) << s(errors_.join("\n"));
  const std::string note = s(window_->review()->field("note")->text());
  EXPECT_EQ(note, "ship it\\x0d\\x1b[2K\\x1b[1A invoice_<U+202E>fdp.exe");
  EXPECT_FALSE(contains(note, "\x1b"));
  EXPECT_FALSE(contains(note, "\xe2\x80\xae"));
}

TEST_F(AppTest, AManifestNamingAFileWithEscapesIsRefusedForTheDiffWithTheNameEscaped) {
  const std::string path = dir_.file("erase.json");
  test_util::spit(path, test_util::manifest_text("zz_backdoor.py\r\x1b[2K\x1b[1A", "ok"));
  ASSERT_EQ(open({fx_.proposal, fx_.manifest}), 2) << s(errors_.join("\n"));
  auto r = window_->session().ws().open_previous(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "/files/0/path")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "zz_backdoor.py\\x0d\\x1b[2K\\x1b[1A")) << r.error().message;
  EXPECT_FALSE(contains(r.error().message, "\x1b"));
  // Nothing of it reached the Diff view.
  window_->session().notify();
  EXPECT_FALSE(contains(s(window_->diff()->counts()->text()), "\x1b"));
}

TEST_F(AppTest, VerifyShowsTheBundlesNoteAndManifestEscaped) {
  // A bundle whose proposal note carries the erase-line attack and a Trojan Source override.
  const Bundle original = must(Bundle::parse_text(test_util::slurp(fx_.bundle)), "bundle");
  Proposal::Fields pf = original.proposal().fields();
  pf.nonce.clear();
  pf.note =
      "ok\r\x1b[2K\x1b[1A invoice_\xe2\x80\xae"
      "fdp.exe";
  const Proposal p = must(Proposal::create(pf), "proposal");
  const std::string path = dir_.file("attack-bundle.json");
  ASSERT_TRUE(write_file_atomic(
                  path, to_pretty_json(must(Bundle::create(p, original.subject(), {}), "bundle").to_json()))
                  .ok());
  ASSERT_EQ(open({path, fx_.policy}), 2) << s(errors_.join("\n"));
  const std::string report = s(window_->verify()->report_text());
  EXPECT_TRUE(contains(report, "Note     ok\\x0d\\x1b[2K\\x1b[1A invoice_<U+202E>fdp.exe\n")) << report;
  EXPECT_TRUE(contains(report, "Proposer dave\n")) << report;
  EXPECT_TRUE(contains(report, "Manifest gemma-4-12b-it 2026-06-01, 40 files\n")) << report;
  EXPECT_FALSE(contains(report, "\x1b"));
  EXPECT_FALSE(contains(report, "\r"));
  EXPECT_FALSE(contains(report, "\xe2\x80\xae"));
}

TEST_F(AppTest, ReviewShowsTheProposalInPlainWordsAndTheFileTable) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest}), 2) << s(errors_.join("\n"));
  ReviewView* r = window_->review();
  EXPECT_TRUE(contains(s(r->field("action")->text()), "install-model"));
  EXPECT_EQ(s(r->field("domain")->text()), "acme-prod");
  EXPECT_EQ(s(r->field("boxes")->text()), "box-7f3a");
  EXPECT_EQ(s(r->field("note")->text()), "Upgrade the support bot to Gemma 4 12B");
  EXPECT_TRUE(contains(s(r->field("expires")->text()), "(in 7d 0h)"));
  const Fingerprint f = fingerprint(fx_.proposal_id);
  EXPECT_EQ(s(r->field("id")->text()), f.hex_groups);
  EXPECT_EQ(s(r->field("words")->text()), f.words_text());
  EXPECT_EQ(s(r->field("version")->text()), "2026-06-01");
  EXPECT_TRUE(
      contains(s(r->field("license")->text()), "Apache-2.0  https://www.apache.org/licenses/LICENSE-2.0"));
  EXPECT_TRUE(contains(s(r->field("sources")->text()), "1. huggingface google/gemma-4-12b-it"));
  // 40 files, one removed and one added by the fixture's variant.
  ASSERT_EQ(r->files_proxy()->rowCount(), 40);
  // Byte order of paths: "tokenizer.json" sorts before "weights/...".
  EXPECT_EQ(s(r->files_proxy()->index(0, ManifestFilesModel::kPath).data().toString()), "tokenizer.json");
  EXPECT_EQ(s(r->files_proxy()->index(0, ManifestFilesModel::kBytes).data().toString()), "4,242");
  EXPECT_EQ(s(r->files_proxy()->index(0, ManifestFilesModel::kSize).data().toString()), "4.1 KiB");
  EXPECT_EQ(s(r->files_proxy()->index(1, ManifestFilesModel::kSize).data().toString()), "1000 B");
  r->filter()->setText(QStringLiteral("PART-000007"));
  QElapsedTimer t;
  t.start();
  while (r->files_proxy()->rowCount() != 1 && t.elapsed() < 3000) {
    QCoreApplication::processEvents();
    QThread::msleep(10);
  }
  ASSERT_EQ(r->files_proxy()->rowCount(), 1);
  EXPECT_EQ(s(r->files_proxy()->index(0, 0).data().toString()), "weights/part-000007.bin");
  EXPECT_TRUE(window_->recent_files().contains(QDir(QString::fromStdString(fx_.proposal)).absolutePath()));
}

TEST_F(AppTest, DiffFindsThePreviousManifestInTheKnownFolder) {
  window_->set_known_manifests_dir(QString::fromStdString(dir_.file("known")));
  ASSERT_EQ(open({fx_.proposal, fx_.manifest}), 2) << s(errors_.join("\n"));
  DiffView* d = window_->diff();
  EXPECT_EQ(s(d->counts()->text()), "Δ 2 changed   + 1 added   − 1 removed   = 37 unchanged");
  EXPECT_TRUE(contains(s(d->metadata()->text()), "Version: 2026-05-01 → 2026-06-01"));
  EXPECT_TRUE(contains(s(d->metadata()->text()), "+ Sources added: huggingface"));
  ASSERT_EQ(d->model()->rowCount(), 4);
  EXPECT_EQ(d->model()->kind_at(0), DiffModel::Kind::kChanged);
  EXPECT_EQ(s(d->model()->index(0, DiffModel::kChange).data().toString()), "Δ changed");
  EXPECT_EQ(s(d->model()->index(0, DiffModel::kDetail).data().toString()).substr(0, 25),
            "hash changed, same size: ");
  EXPECT_EQ(s(d->model()->index(1, DiffModel::kDetail).data().toString()).substr(0, 25),
            "size changed, same hash: ");
  EXPECT_EQ(s(d->model()->index(2, DiffModel::kChange).data().toString()), "+ added");
  EXPECT_EQ(s(d->model()->index(2, DiffModel::kPath).data().toString()), "tokenizer.json");
  EXPECT_EQ(s(d->model()->index(3, DiffModel::kChange).data().toString()), "− removed");
  EXPECT_FALSE(d->model()->index(3, DiffModel::kChange).data(Qt::DecorationRole).value<QImage>().isNull());
}

TEST_F(AppTest, DroppingThreeSignaturesMeetsTheRuleAndTheExportedBundleVerifies) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, fx_.policy}), 3) << s(errors_.join("\n"));
  CollectView* c = window_->collect();
  EXPECT_EQ(s(c->progress()->text()),
            "0 of 3 approvals — still needs 3 more including someone from compliance");
  EXPECT_FALSE(c->export_button()->isEnabled());

  drop({fx_.signatures[0], fx_.signatures[2]});  // alice and carol: engineering
  EXPECT_EQ(window_->tabs()->currentWidget(), c);
  EXPECT_EQ(s(c->progress()->text()),
            "2 of 3 approvals — still needs 1 more including someone from compliance");
  EXPECT_FALSE(c->export_button()->isEnabled());

  drop({fx_.signatures[1]});  // bob: compliance
  EXPECT_EQ(s(c->progress()->text()), "3 of 3 approvals — the rule is met; the bundle can be exported");
  EXPECT_TRUE(c->export_button()->isEnabled());
  ApproversModel* m = c->approvers();
  ASSERT_EQ(m->rowCount(), 5);
  EXPECT_EQ(m->state_at(0), ApproversModel::State::kCounted);  // alice
  EXPECT_EQ(m->state_at(1), ApproversModel::State::kCounted);  // bob
  EXPECT_EQ(m->state_at(2), ApproversModel::State::kCounted);  // carol
  EXPECT_EQ(m->state_at(3), ApproversModel::State::kMissing);  // dave
  EXPECT_EQ(s(m->text(3, ApproversModel::kState)), "missing");
  EXPECT_EQ(s(m->text(1, ApproversModel::kApprover)), "Bob Osei (bob)");

  const std::string out = dir_.file("exported-bundle.json");
  ASSERT_TRUE(c->export_to(QString::fromStdString(out))) << s(errors_.join("\n"));
  // The exported bundle verifies with core alone.
  const Bundle b = must(Bundle::parse_text(test_util::slurp(out)), "exported bundle");
  const Policy p = must(Policy::parse_text(test_util::slurp(fx_.policy)), "policy");
  VerifyOptions opt;
  opt.now = kNow;
  const VerifyReport report = verify_bundle(b, p, opt);
  EXPECT_TRUE(report.approved) << report.to_text(p);
  EXPECT_EQ(report.counted, (std::vector<std::string>{"alice", "carol", "bob"}));
}

TEST_F(AppTest, AOneLineSignatureCanBePasted) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, fx_.policy}), 3);
  const SignatureFile bob = must(SignatureFile::parse_text(test_util::slurp(fx_.signatures[1])), "bob");
  const std::string line = signature_one_line(bob);
  ASSERT_EQ(line.find('\n'), std::string::npos);
  auto r = window_->session().ws().add_signature_text(line);
  ASSERT_TRUE(r.ok()) << r.error().message;
  window_->session().notify();
  EXPECT_EQ(window_->collect()->approvers()->state_at(1), ApproversModel::State::kCounted);
  EXPECT_EQ(s(window_->collect()->progress()->text()).substr(0, 16), "1 of 3 approvals");
  // Pasting a proposal instead says what it is.
  auto wrong = window_->session().ws().add_signature_text(test_util::slurp(fx_.proposal));
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(contains(wrong.error().message, "is a proposal, not a signature")) << wrong.error().message;
}

TEST_F(AppTest, RecentFilesAndTheKnownFolderOutliveTheWindow) {
  window_->set_known_manifests_dir(QString::fromStdString(dir_.file("known")));
  ASSERT_EQ(open({fx_.proposal, fx_.manifest}), 2);
  window_->close();
  window_ = std::make_unique<MainWindow>();
  const QStringList recent = window_->recent_files();
  ASSERT_EQ(recent.size(), 2);
  EXPECT_EQ(s(recent[0]), fx_.manifest);  // newest first
  EXPECT_EQ(s(recent[1]), fx_.proposal);
  EXPECT_EQ(window_->session().ws().known_manifests_dir, dir_.file("known"));
}

TEST_F(AppTest, ASignatureForAnotherProposalIsRefusedWithTheReason) {
  ASSERT_EQ(open({fx_.proposal, fx_.policy}), 2);
  test_util::TempDir other_dir("app-other");
  const auto other = app_fixture::make(other_dir.path().string(), kNow);
  EXPECT_EQ(open({other.signatures[0]}), 0);
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "not the open proposal")) << s(errors_[0]);
  EXPECT_EQ(window_->session().ws().signatures.size(), 0u);
}

TEST_F(AppTest, SignWithASoftwareKeyWritesAVerifyingSignatureAndShowsAQrCode) {
  ASSERT_EQ(open({fx_.proposal, fx_.policy}), 2);
  SignView* v = window_->sign();
  int asked = 0;
  v->passphrase_source = [&asked](const QString& prompt) -> std::optional<SecretBytes> {
    ++asked;
    EXPECT_TRUE(contains(s(prompt), "belongs to erin")) << s(prompt);
    return SecretBytes::copy_of(as_bytes(std::string_view("pass-erin")));
  };
  const std::string out = dir_.file("erin.sig.json");
  ASSERT_TRUE(v->sign_with_key_file(QString::fromStdString(fx_.keys[4]), QString::fromStdString(out)))
      << s(errors_.join("\n"));
  EXPECT_EQ(asked, 1);
  const SignatureFile sig = must(SignatureFile::parse_text(test_util::slurp(out)), "written signature");
  const Policy p = must(Policy::parse_text(test_util::slurp(fx_.policy)), "policy");
  auto key = p.find_key(sig.key());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->approver->id, "erin");  // not dave: he proposed it, his own signature does not count
  const SigningInput input = signing_input(fx_.proposal_id);
  EXPECT_TRUE(key->key->key.verify(input, sig.fields().signature).ok());
  // One line, the same document, and a QR code of it.
  EXPECT_EQ(v->one_line().count(QLatin1Char('\n')), 0);
  EXPECT_EQ(must(SignatureFile::parse_text(s(v->one_line())), "one line").key(), sig.key());
  EXPECT_FALSE(v->qr().isNull());
  // The new signature counts in Collect at once.
  EXPECT_EQ(s(window_->collect()->progress()->text()).substr(0, 16), "1 of 3 approvals");

  // A wrong passphrase: an error that says so, and no file.
  v->passphrase_source = [](const QString&) -> std::optional<SecretBytes> {
    return SecretBytes::copy_of(as_bytes(std::string_view("wrong")));
  };
  const std::string out2 = dir_.file("dave.sig.json");
  EXPECT_FALSE(v->sign_with_key_file(QString::fromStdString(fx_.keys[3]), QString::fromStdString(out2)));
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "Could not sign")) << s(errors_[0]);
  EXPECT_FALSE(std::filesystem::exists(out2));
}

TEST_F(AppTest, SignWithAVirtualFido2KeyAsksThePinShowsTouchAndCounts) {
  // erin's key becomes a FIDO2 credential (PIN required) on a virtual authenticator.
  const std::string socket = dir_.file("erin.sock");
  test_util::VirtualKeyProcess erin_key(socket, {"--pin", "123456"});
  ASSERT_TRUE(erin_key.ready());
  const SecretBytes right = SecretBytes::copy_of(as_bytes(std::string_view("123456")));
  const PolicyKey key = enrol_erin(socket, true, &right);
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, policy_with_erin_key(key)}), 3) << s(errors_.join("\n"));

  SignView* v = window_->sign();
  ASSERT_EQ(v->find_fido2(QString::fromStdString("unix:" + socket)), 1) << s(errors_.join("\n"));
  std::vector<int> retries_shown;
  v->pin_source = [&retries_shown](const QString&, int retries) -> std::optional<SecretBytes> {
    retries_shown.push_back(retries);
    return SecretBytes::copy_of(as_bytes(std::string_view(retries_shown.size() == 1 ? "000000" : "123456")));
  };
  const std::string out = dir_.file("erin.sig.json");
  ASSERT_TRUE(v->sign_with_fido2(0, QString::fromStdString(out))) << s(errors_.join("\n"));
  // First the PIN with tries unknown, then again after the wrong one, with the tries left.
  ASSERT_EQ(retries_shown.size(), 2u);
  EXPECT_EQ(retries_shown[0], -1);
  EXPECT_GT(retries_shown[1], 0);
  EXPECT_TRUE(v->touch_prompt_shown());
  const SignatureFile sig = must(SignatureFile::parse_text(test_util::slurp(out)), "signature");
  EXPECT_EQ(sig.alg(), Alg::kFido2Es256);
  EXPECT_TRUE(key.key
                  .verify(signing_input(fx_.proposal_id), sig.fields().signature,
                          sig.fields().authenticator_data, true)
                  .ok());
  EXPECT_EQ(window_->collect()->approvers()->state_at(4), ApproversModel::State::kCounted);
}

TEST_F(AppTest, ASecurityKeyHoldingNoPolicyCredentialIsSaidPlainly) {
  // erin's credential is on one virtual key; another key is plugged in.
  test_util::VirtualKeyProcess erin_key(dir_.file("erin.sock"), {});
  test_util::VirtualKeyProcess other_key(dir_.file("other.sock"), {});
  ASSERT_TRUE(erin_key.ready() && other_key.ready());
  ASSERT_EQ(open({fx_.proposal, policy_with_erin_key(enrol_erin(dir_.file("erin.sock")))}), 2)
      << s(errors_.join("\n"));
  SignView* v = window_->sign();
  EXPECT_EQ(v->find_fido2(QString::fromStdString("unix:" + dir_.file("other.sock"))), 0);
  EXPECT_TRUE(contains(s(v->status()->text()), "No connected security key holds a key of this policy"));
  EXPECT_FALSE(v->sign_with_fido2(0, QString::fromStdString(dir_.file("erin.sig.json"))));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("erin.sig.json")));
  // The right key is found, touch only (no "uv").
  ASSERT_EQ(v->find_fido2(QString::fromStdString("unix:" + dir_.file("erin.sock"))), 1);
  v->pin_source = [](const QString&, int) -> std::optional<SecretBytes> {
    ADD_FAILURE() << "no PIN may be asked for a touch-only key";
    return std::nullopt;
  };
  EXPECT_TRUE(v->sign_with_fido2(0, QString::fromStdString(dir_.file("erin.sig.json"))))
      << s(errors_.join("\n"));
  EXPECT_TRUE(std::filesystem::exists(dir_.file("erin.sig.json")));
}

// Cancel during "Touch your key now" reaches the key (CTAPHID_CANCEL): it stops waiting, the
// sign call returns at once, and nothing is written.
TEST_F(AppTest, CancelStopsTheSecurityKeyWaitingForATouchAndWritesNothing) {
  const std::string socket = dir_.file("erin.sock");
  const std::string waiting = dir_.file("waiting-for-touch");
  test_util::VirtualKeyProcess erin_key(socket, {"--wait-touch", waiting});
  ASSERT_TRUE(erin_key.ready());
  ASSERT_EQ(open({fx_.proposal, policy_with_erin_key(enrol_erin(socket))}), 2) << s(errors_.join("\n"));
  SignView* v = window_->sign();
  ASSERT_EQ(v->find_fido2(QString::fromStdString("unix:" + socket)), 1) << s(errors_.join("\n"));

  // Press Cancel once the key waits for the touch (bounded: 500 polls of 20 ms at most).
  int polls = 0;
  QTimer press_cancel;
  QObject::connect(&press_cancel, &QTimer::timeout, [&] {
    if (!std::filesystem::exists(waiting) && ++polls < 500) return;
    if (auto* dialog = v->findChild<QProgressDialog*>(); dialog != nullptr && dialog->isVisible()) {
      dialog->cancel();
      press_cancel.stop();
    }
  });
  press_cancel.start(20);
  const std::string out = dir_.file("erin.sig.json");
  EXPECT_FALSE(v->sign_with_fido2(0, QString::fromStdString(out)));
  press_cancel.stop();
  EXPECT_TRUE(std::filesystem::exists(waiting)) << "the key never waited for a touch";
  EXPECT_TRUE(v->touch_prompt_shown());
  EXPECT_TRUE(
      contains(s(v->status()->text()), "Cancelled: the security key stopped waiting. Nothing was written."))
      << s(v->status()->text());
  EXPECT_TRUE(errors_.isEmpty()) << s(errors_.join("\n"));
  EXPECT_FALSE(std::filesystem::exists(out));
  // The key is free again: it is found at once.
  EXPECT_EQ(v->find_fido2(QString::fromStdString("unix:" + socket)), 1) << s(errors_.join("\n"));
}

// A FIDO2 key attested by a CA the app is told to trust (--attestation-root) shows as
// verified in the Policy view; without it, as not verified.
TEST_F(AppTest, AnAttestationRootGivenToTheAppVerifiesAFido2KeysAttestation) {
  const std::string socket = dir_.file("erin.sock");
  const std::string ca = dir_.file("virtual-ca.der");
  test_util::VirtualKeyProcess erin_key(socket, {"--ca-out", ca});
  ASSERT_TRUE(erin_key.ready());
  const PolicyKey key = enrol_erin(socket);
  ASSERT_TRUE(key.attestation.has_value());
  ASSERT_EQ(open({policy_with_erin_key(key)}), 1) << s(errors_.join("\n"));
  PolicyView* v = window_->policy();
  ASSERT_EQ(v->keys()->rowCount(), 5);
  EXPECT_TRUE(contains(s(v->keys()->text(4, PolicyKeysModel::kAttestation)), "fido2-packed NOT verified"))
      << s(v->keys()->text(4, PolicyKeysModel::kAttestation));

  ASSERT_TRUE(window_->set_attestation_roots({ca}).ok());
  EXPECT_TRUE(contains(s(v->keys()->text(4, PolicyKeysModel::kAttestation)), "fido2-packed verified"))
      << s(v->keys()->text(4, PolicyKeysModel::kAttestation));

  // A root file that cannot be read is refused, naming it, and the roots stay as they were.
  auto bad = window_->set_attestation_roots({dir_.file("missing.pem")});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error().message, "missing.pem")) << bad.error().message;
  EXPECT_TRUE(contains(s(v->keys()->text(4, PolicyKeysModel::kAttestation)), "fido2-packed verified"));
}

// PIV cards through the real pcscd + vpcd and tests/tools' virtual PIV card (a YubiKey 5.7
// with PIN 123456, 3 tries). Skipped with the reason when they cannot start here, failed
// when COUNTERSIGN_REQUIRE_INTEGRATION=1. CTest labels these tests "integration".
class AppPivTest : public AppTest {
 protected:
  void SetUp() override {
    AppTest::SetUp();
    card_cert_ = test_util::make_key_and_cert("P-256", dir_.file("9c.pem"), dir_.file("9c.der"));
    test_util::make_key_and_cert("P-256", dir_.file("f9.pem"), dir_.file("f9.der"));
    std::ofstream(dir_.file("card.state"))
        << "pin 123456\npin_retries 3\npin_max 3\nserial 7654321\nversion 5 7 1\n"
        << "slot 9c 11 " << dir_.file("9c.pem") << " " << dir_.file("9c.der") << "\n"
        << "attestation " << dir_.file("f9.pem") << " " << dir_.file("f9.der") << "\n";
    std::string reason;
    card_ = test_util::PcscFixture::start(dir_.path().string(), dir_.file("card.state"), reason);
    CS_REQUIRE_OR_SKIP(card_ != nullptr, reason);
  }

  // The fixture policy with the key in the card's slot 9c as erin's.
  std::string policy_with_card_key() {
    const PublicKey key = must(x509::public_key_from_certificate(card_cert_), "card key");
    return policy_with_erin_key(PolicyKey{key, {}, false, std::nullopt});
  }

  static std::optional<SecretBytes> pin(std::string_view text) {
    return SecretBytes::copy_of(as_bytes(text));
  }

  Bytes card_cert_;
  std::unique_ptr<test_util::PcscFixture> card_;
};

TEST_F(AppPivTest, FindsTheCardAsksThePinWithTriesLeftAndTheSignatureCounts) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, policy_with_card_key()}), 3) << s(errors_.join("\n"));
  SignView* v = window_->sign();
  ASSERT_EQ(v->find_piv(QString()), 1) << s(errors_.join("\n"));  // every reader
  ASSERT_EQ(v->find_piv(QString::fromStdString(card_->reader())), 1) << s(errors_.join("\n"));
  std::vector<int> retries_shown;
  std::vector<std::string> prompts;
  v->pin_source = [&](const QString& prompt, int retries) -> std::optional<SecretBytes> {
    retries_shown.push_back(retries);
    prompts.push_back(s(prompt));
    return pin(retries_shown.size() == 1 ? "111111" : "123456");
  };
  const std::string out = dir_.file("erin.sig.json");
  ASSERT_TRUE(v->sign_with_piv(0, QString::fromStdString(out))) << s(errors_.join("\n"));
  // The card's tries first (read without the PIN), then again after the wrong one, one fewer.
  ASSERT_EQ(retries_shown, (std::vector<int>{3, 2}));
  EXPECT_TRUE(contains(prompts[0], "erin's key (YubiKey PIV, firmware 5.7.1, serial 7654321, slot 9c)"))
      << prompts[0];
  EXPECT_TRUE(errors_.isEmpty()) << s(errors_.join("\n"));
  // A YubiKey key without a verified attestation saying "touch never" may wait for a touch.
  EXPECT_TRUE(v->touch_prompt_shown());

  const SignatureFile sig = must(SignatureFile::parse_text(test_util::slurp(out)), "signature");
  EXPECT_EQ(sig.alg(), Alg::kEcdsaP256);
  const Policy p = must(Policy::parse_text(test_util::slurp(dir_.file("policy-erin.json"))), "policy");
  auto key = p.find_key(sig.key());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->approver->id, "erin");
  EXPECT_TRUE(key->key->key.verify(signing_input(fx_.proposal_id), sig.fields().signature).ok());
  EXPECT_EQ(window_->collect()->approvers()->state_at(4), ApproversModel::State::kCounted);
}

TEST_F(AppPivTest, ACardHoldingNoPolicyKeyIsSaidPlainlyNamingTheCard) {
  ASSERT_EQ(open({fx_.proposal, fx_.policy}), 2) << s(errors_.join("\n"));
  SignView* v = window_->sign();
  EXPECT_EQ(v->find_piv(QString()), 0);
  const std::string status = s(v->status()->text());
  EXPECT_TRUE(contains(status, "No card holds a key of this policy.")) << status;
  EXPECT_TRUE(contains(status, card_->reader() + ": YubiKey PIV, firmware 5.7.1, serial 7654321")) << status;
  EXPECT_TRUE(errors_.isEmpty()) << s(errors_.join("\n"));
  EXPECT_FALSE(v->sign_with_piv(0, QString::fromStdString(dir_.file("erin.sig.json"))));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("erin.sig.json")));
  // A reader that does not exist is an error naming the readers there are.
  EXPECT_EQ(v->find_piv(QStringLiteral("No Such Reader 00 00")), 0);
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), card_->reader())) << s(errors_[0]);
}

TEST_F(AppPivTest, ThreeWrongPinsLockThePinAndAPulledCardIsReported) {
  ASSERT_EQ(open({fx_.proposal, policy_with_card_key()}), 2) << s(errors_.join("\n"));
  SignView* v = window_->sign();
  ASSERT_EQ(v->find_piv(QString()), 1) << s(errors_.join("\n"));
  std::vector<int> retries_shown;
  v->pin_source = [&](const QString&, int retries) -> std::optional<SecretBytes> {
    retries_shown.push_back(retries);
    return pin("111111");
  };
  const std::string out = dir_.file("erin.sig.json");
  EXPECT_FALSE(v->sign_with_piv(0, QString::fromStdString(out)));
  EXPECT_EQ(retries_shown, (std::vector<int>{3, 2, 1}));
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "blocked")) << s(errors_[0]);
  EXPECT_TRUE(contains(s(errors_[0]), "PUK")) << s(errors_[0]);
  EXPECT_FALSE(std::filesystem::exists(out));

  // The card is pulled out between finding and signing.
  errors_.clear();
  ASSERT_TRUE(card_->remove_card());
  v->pin_source = [](const QString&, int) -> std::optional<SecretBytes> { return pin("123456"); };
  EXPECT_FALSE(v->sign_with_piv(0, QString::fromStdString(out)));
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "insert the card")) << s(errors_[0]);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(AppTest, AnUnknownDocumentIsRefusedNamingTheFileAndSchema) {
  const std::string path = dir_.file("other.json");
  test_util::spit(path, R"({"schema":"acme/invoice/v2","total":3})");
  EXPECT_EQ(open({path}), 0);
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "other.json")) << s(errors_[0]);
  EXPECT_TRUE(contains(s(errors_[0]), "unknown schema \"acme/invoice/v2\"")) << s(errors_[0]);
  EXPECT_TRUE(window_->recent_files().isEmpty());
}

TEST_F(AppTest, VerifyShowsTheSameReportAsTheCli) {
  ASSERT_EQ(open({fx_.bundle, fx_.policy}), 2) << s(errors_.join("\n"));
  VerifyView* v = window_->verify();
  EXPECT_TRUE(contains(s(v->verdict()->text()), "APPROVED — the box would act")) << s(v->report_text());
  // `countersign bundle verify` prints VerifyReport::to_text with the pinned roots.
  const Bundle b = must(Bundle::parse_text(test_util::slurp(fx_.bundle)), "bundle");
  const Policy p = must(Policy::parse_text(test_util::slurp(fx_.policy)), "policy");
  VerifyOptions opt;
  opt.now = kNow;
  const std::string cli_text = verify_bundle(b, p, opt).to_text(p);
  EXPECT_TRUE(contains(s(v->report_text()), cli_text)) << s(v->report_text());

  // Past expiry the same bundle is refused, and the report says why.
  window_->session().set_clock([] { return kNow + 8 * 86400; });
  window_->session().notify();
  EXPECT_TRUE(contains(s(v->verdict()->text()), "NOT APPROVED"));
  EXPECT_TRUE(contains(s(v->report_text()), "expired"));
}

TEST_F(AppTest, PolicyViewListsKeysRulesAndAttestation) {
  ASSERT_EQ(open({fx_.policy}), 1);
  PolicyView* v = window_->policy();
  EXPECT_EQ(window_->tabs()->currentWidget(), v);
  EXPECT_TRUE(contains(s(v->header()->text()), "acme-prod, version 1 — 5 approvers"));
  EXPECT_TRUE(contains(s(v->rules()->text()), "install-model: 3 of 5, needs someone from compliance"));
  EXPECT_TRUE(contains(s(v->rules()->text()), "rotate-policy: not allowed (no rule)"));
  ASSERT_EQ(v->keys()->rowCount(), 5);
  EXPECT_EQ(s(v->keys()->text(0, PolicyKeysModel::kApprover)), "Alice Chen, CTO (alice)");
  EXPECT_EQ(s(v->keys()->text(0, PolicyKeysModel::kAlg)), "ed25519");
  EXPECT_EQ(s(v->keys()->text(0, PolicyKeysModel::kAttestation)), "no hardware attestation");
}

TEST_F(AppTest, LogViewBrowsesAndVerifiesAnExport) {
  ASSERT_EQ(open({fx_.log, fx_.checkpoint}), 2) << s(errors_.join("\n"));
  LogView* v = window_->log();
  ASSERT_EQ(v->model()->rowCount(), 8);
  EXPECT_EQ(s(v->model()->text(0, LogModel::kEvent)), "approver-proved");
  EXPECT_EQ(s(v->model()->text(4, LogModel::kEvent)), "daemon-started");
  EXPECT_EQ(s(v->model()->text(7, LogModel::kEvent)), "install-complete");
  EXPECT_TRUE(contains(s(v->model()->text(7, LogModel::kDetails)), "\"manifest\":\"sha256:"));
  ASSERT_TRUE(v->verify_with_key_file(QString::fromStdString(fx_.log_key))) << s(v->status()->text());
  EXPECT_TRUE(contains(s(v->status()->text()), "8 entries"));

  // Another log's key does not verify it.
  test_util::TempDir other_dir("app-otherlog");
  const auto other = app_fixture::make(other_dir.path().string(), kNow);
  EXPECT_FALSE(v->verify_with_key_file(QString::fromStdString(other.log_key)));
  EXPECT_TRUE(contains(s(v->status()->text()), "NOT VERIFIED"));
}

TEST(AppLarge, DiffOfTwo100000FileManifestsOpensAndShowsEveryChange) {
  test_util::TempDir dir("app-large");
  const Manifest before = app_fixture::make_manifest("2026-05-01", 100000, 0);
  const Manifest after = app_fixture::make_manifest("2026-06-01", 100000, 1);
  const std::string bp = dir.file("before.json"), ap = dir.file("after.json");
  app_fixture::must_ok(write_file_atomic(bp, to_pretty_json(before.to_json())), "write");
  app_fixture::must_ok(write_file_atomic(ap, to_pretty_json(after.to_json())), "write");
  // What a reviewer sees; how fast is tests/bench/app_diff_bench's business (target < 1 s).
  MainWindow w;
  ASSERT_EQ(w.open_files({QString::fromStdString(ap)}), 1);
  auto r = w.session().ws().open_previous(bp);
  ASSERT_TRUE(r.ok()) << r.error().message;
  w.session().notify();
  EXPECT_EQ(s(w.diff()->counts()->text()), "Δ 200 changed   + 1 added   − 100 removed   = 99,700 unchanged");
  EXPECT_EQ(w.diff()->model()->rowCount(), 301);
  EXPECT_EQ(w.review()->files_proxy()->rowCount(), 99901);
}

TEST_F(AppTest, ScreenshotsOfEveryView) {
  ASSERT_EQ(open({fx_.bundle, fx_.policy}), 2);
  const QString out = QString::fromStdString(dir_.file("shots"));
  ASSERT_TRUE(window_->save_screenshots(out));
  const QStringList files = QDir(out).entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
  EXPECT_EQ(files, (QStringList{"01-review.png", "02-diff.png", "03-sign.png", "04-collect.png",
                                "05-verify.png", "06-policy.png", "07-log.png"}));
}

// ---- governance: vetoes in Collect, the proposer in Review, liveness in Policy -----

TEST_F(AppTest, TwoVetoesInCollectSayTheProposalIsDead) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, fx_.policy}), 3) << s(errors_.join("\n"));
  drop({fx_.signatures[0], fx_.signatures[1], fx_.signatures[2]});
  CollectView* c = window_->collect();
  EXPECT_TRUE(contains(s(c->progress()->text()), "3 of 3 approvals — the rule is met"))
      << s(c->progress()->text());
  drop({fx_.vetoes[0]});  // dave: one of two
  EXPECT_TRUE(contains(s(c->progress()->text()), "1 of 2 vetoes (dave)")) << s(c->progress()->text());
  EXPECT_TRUE(c->export_button()->isEnabled());
  drop({fx_.vetoes[1]});  // erin: dead
  EXPECT_TRUE(contains(s(c->progress()->text()), "2 of 2 vetoes: this proposal is dead"))
      << s(c->progress()->text());
  EXPECT_FALSE(c->export_button()->isEnabled());
  const ApproversModel* m = c->approvers();
  ASSERT_EQ(m->rowCount(), 5);
  EXPECT_EQ(m->state_at(3), ApproversModel::State::kVetoed);  // dave
  EXPECT_EQ(s(m->text(3, ApproversModel::kState)), "vetoed");
  EXPECT_EQ(m->state_at(4), ApproversModel::State::kVetoed);  // erin
  // The Verify view says so too, in the CLI's words.
  EXPECT_TRUE(contains(s(window_->verify()->report_text()), "VETOED: 2 of 2 vetoes (dave, erin)"))
      << s(window_->verify()->report_text());
}

TEST_F(AppTest, ReviewNamesTheProposerAndWhetherTheRuleCountsThem) {
  ASSERT_EQ(open({fx_.proposal, fx_.manifest, fx_.policy}), 3) << s(errors_.join("\n"));
  const QString proposer = window_->review()->field(QStringLiteral("proposer"))->text();
  EXPECT_TRUE(contains(s(proposer), "dave — the rule for install-model does not count their own signature"))
      << s(proposer);
  // dave signing his own proposal is reported as the proposer's, not as invalid.
  const auto keys = fx_.keys;
  const Proposal p = must(Proposal::parse_text(test_util::slurp(fx_.proposal)), "proposal");
  SoftwareKey dave =
      must(SoftwareKey::load(keys[3], SecretBytes::copy_of(as_bytes(app_fixture::passphrase_of("dave")))),
           "dave's key");
  const std::string own = dir_.file("dave.sig.json");
  app_fixture::must_ok(
      write_file_atomic(own,
                        to_pretty_json(must(sign_proposal(dave, p.id(), "dave", kNow), "sign").to_json())),
      "write");
  drop({own});
  const ApproversModel* m = window_->collect()->approvers();
  EXPECT_EQ(m->state_at(3), ApproversModel::State::kProposer);
  EXPECT_TRUE(contains(s(m->text(3, ApproversModel::kDetail)), "proposed this"))
      << s(m->text(3, ApproversModel::kDetail));
}

TEST_F(AppTest, PolicyViewShowsEachApproversLastProofAndWarnsWhenARuleCouldNotBeMet) {
  ASSERT_EQ(open({fx_.policy}), 1);
  PolicyView* v = window_->policy();
  EXPECT_TRUE(contains(s(v->rules()->text()), "; 2 veto(es) end a proposal")) << s(v->rules()->text());
  EXPECT_TRUE(contains(s(v->rules()->text()), "not counting the proposer's own signature"))
      << s(v->rules()->text());
  EXPECT_TRUE(contains(s(v->liveness()->text()), "open the box's audit log export"))
      << s(v->liveness()->text());
  ASSERT_EQ(open({fx_.log}), 1);
  const std::string text = s(v->liveness()->text());
  EXPECT_TRUE(contains(text, "every 90 days")) << text;
  EXPECT_TRUE(contains(text, "alice  proven")) << text;
  EXPECT_TRUE(contains(text, "(100d 0h ago)  STALE")) << text;
  EXPECT_TRUE(contains(text, "erin   never proven")) << text;
  EXPECT_TRUE(contains(text, "Every rule can be met")) << text;
  // 89 days on, alice's, bob's and carol's proofs are stale too: no rule can be met.
  window_->session().set_clock([] { return kNow + 89 * 86400; });
  window_->session().notify();
  const std::string later = s(v->liveness()->text());
  EXPECT_TRUE(
      contains(later, "warning: install-model needs 3; only 0 approvers have proven their keys in 90 days"))
      << later;
  // And the Review view of the proposal says it where the approver reads it.
  ASSERT_EQ(open({fx_.proposal}), 1);
  EXPECT_TRUE(contains(s(window_->review()->field(QStringLiteral("proposer"))->text()),
                       "warning: install-model needs 3"));
}

TEST_F(AppTest, AFileNameThatMixesScriptsIsFlaggedInTheFileTable) {
  nlohmann::json m = must(jcs::parse(test_util::slurp(fx_.manifest)), "manifest json");
  m["files"].push_back({{"path",
                         "model.s\xd0\xb0"
                         "fetensors"},
                        {"size", 1},
                        {"sha256", std::string(64, 'a')}});  // Cyrillic а
  std::sort(m["files"].begin(), m["files"].end(),
            [](const nlohmann::json& a, const nlohmann::json& b) { return a["path"] < b["path"]; });
  const std::string path = dir_.file("mixed.json");
  app_fixture::must_ok(write_file_atomic(path, to_pretty_json(m)), "write");
  ASSERT_EQ(open({path}), 1) << s(errors_.join("\n"));
  const auto* files = window_->review()->files_proxy();
  bool flagged = false;
  for (int r = 0; r < files->rowCount(); ++r) {
    const std::string cell = s(files->data(files->index(r, ManifestFilesModel::kPath)).toString());
    if (contains(cell, "fetensors")) {
      flagged = contains(cell, "⚠ this name mixes scripts: Latin and Cyrillic");
      EXPECT_TRUE(flagged) << cell;
    }
  }
  EXPECT_TRUE(flagged);
}

// ---- the box's AWS Nitro attestation beside the proposal --------------------------

// A box of tests/nitro_test_box.h: its documents are signed under a test root (given with
// set_nitro_root, as --nitro-root), valid an hour around kNow, and show the PCRs of the
// fixture policy's image safebox-2026.11.
class AppAttestationTest : public AppTest {
 protected:
  std::string attestation_row() const {
    return s(window_->review()->field(QStringLiteral("attestation"))->text());
  }
  std::string attestation_style() const {
    return s(window_->review()->field(QStringLiteral("attestation"))->styleSheet());
  }
  std::string warning() const {
    return "\nWARNING: checked against " + box_.file("root.pem") +
           ", not the pinned AWS Nitro Enclaves root: this proves nothing about AWS hardware";
  }

  test_util::TempDir box_dir_{"app-box"};
  test_util::NitroTestBox box_{box_dir_};
};

constexpr const char* kGreen = "color: #1b7f3b";
constexpr const char* kRedBold = "color: #b3261e; font-weight: bold";
constexpr const char* kAmberBold = "color: #8a5300; font-weight: bold";

TEST_F(AppAttestationTest, AnAttestationBindingTheProposalsBoxShowsTheApprovedImage) {
  ASSERT_TRUE(window_->set_box_log_key(box_.file("log.pub")).ok());
  ASSERT_TRUE(window_->set_box_tls_key(box_.file("tls.pem")).ok());
  ASSERT_TRUE(window_->set_nitro_root(box_.file("root.pem")).ok());
  const std::string att = box_.document("att.cbor", box_.binding("box-7f3a"), {});
  ASSERT_EQ(open({fx_.proposal, fx_.policy, att}), 3) << s(errors_.join("\n"));
  EXPECT_EQ(window_->tabs()->currentWidget(), window_->review());
  EXPECT_EQ(attestation_row(), "box-7f3a runs approved image safebox-2026.11, attested 12m ago" + warning());
  // Approved, but under a test root: loud, not green.
  EXPECT_EQ(attestation_style(), kAmberBold);

  // The same document as base64 (as the AWS SDKs print it, with line breaks) is the same kind.
  const std::string raw = test_util::slurp(att);
  std::string b64 = base64_encode(Bytes(raw.begin(), raw.end()));
  for (std::size_t i = 76; i < b64.size(); i += 77) b64.insert(i, "\n");
  test_util::spit(dir_.file("att.b64"), b64 + "\n");
  auto doc = load_document(dir_.file("att.b64"));
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->kind, DocKind::kAttestation);
  EXPECT_EQ(std::get<AttestationDocument>(doc->value).cose, Bytes(raw.begin(), raw.end()));

  // Two hours on, the test box's certificates have expired.
  window_->session().set_clock([] { return kNow + 7200; });
  window_->session().notify();
  EXPECT_TRUE(contains(attestation_row(), "NOT APPROVED: the attestation document does not verify: "))
      << attestation_row();
  EXPECT_TRUE(contains(attestation_row(), "certificate has expired")) << attestation_row();
  EXPECT_EQ(attestation_style(), kRedBold);
}

TEST_F(AppAttestationTest, AnAttestationBindingAnotherBoxIsNotApproved) {
  ASSERT_TRUE(window_->set_box_log_key(box_.file("log.pub")).ok());
  ASSERT_TRUE(window_->set_box_tls_key(box_.file("tls.pem")).ok());
  ASSERT_TRUE(window_->set_nitro_root(box_.file("root.pem")).ok());
  const std::string att = box_.document("att.cbor", box_.binding("box-91c2"), {});
  ASSERT_EQ(open({fx_.proposal, fx_.policy, att}), 3) << s(errors_.join("\n"));
  EXPECT_EQ(
      attestation_row(),
      "NOT APPROVED: the document's user_data does not bind box box-7f3a with this log key and TLS key (it "
      "was made for another box or another key)" +
          warning());
  EXPECT_EQ(attestation_style(), kRedBold);
}

TEST_F(AppAttestationTest, WithoutTheBoxsLogKeyTheBindingIsSaidNotChecked) {
  ASSERT_TRUE(window_->set_nitro_root(box_.file("root.pem")).ok());
  const std::string att = box_.document("att.cbor", box_.binding("box-91c2"), {});
  ASSERT_EQ(open({fx_.proposal, fx_.policy, att}), 3) << s(errors_.join("\n"));
  EXPECT_EQ(attestation_row(),
            "the enclave runs approved image safebox-2026.11, attested 12m ago — binding to the box not "
            "checked (give --box-log-key)" +
                warning());
}

TEST_F(AppAttestationTest, TheRealAwsDocumentDoesNotVerifyNowAgainstThePinnedRoot) {
  const std::string real = std::string(COUNTERSIGN_TEST_DATA) + "/nitro-attestation/nitro_attestation.b64";
  ASSERT_TRUE(window_->set_box_log_key(box_.file("log.pub")).ok());
  ASSERT_EQ(open({fx_.proposal, fx_.policy, real}), 3) << s(errors_.join("\n"));
  EXPECT_TRUE(contains(attestation_row(), "NOT APPROVED: the attestation document does not verify: "))
      << attestation_row();
  EXPECT_TRUE(contains(attestation_row(), "certificate has expired")) << attestation_row();
  EXPECT_FALSE(contains(attestation_row(), "WARNING")) << attestation_row();
  EXPECT_EQ(attestation_style(), kRedBold);
}

TEST_F(AppAttestationTest, WithoutAnAttestationTheRowSaysWhatWasNotChecked) {
  // The fixture's rule for install-model says attested_image.
  ASSERT_EQ(open({fx_.proposal, fx_.policy}), 2) << s(errors_.join("\n"));
  EXPECT_EQ(attestation_row(),
            "NOT CHECKED: the rule for install-model requires an attested image; open the box's attestation "
            "(countersign box attest -o att.cbor)");
  EXPECT_EQ(attestation_style(), kRedBold);

  // A rule that does not ask for one.
  nlohmann::json policy = must(jcs::parse(test_util::slurp(fx_.policy)), "policy json");
  policy["rules"]["install-model"].erase("attested_image");
  const std::string plain = dir_.file("policy-plain.json");
  app_fixture::must_ok(write_file_atomic(plain, to_pretty_json(policy)), "write policy");
  ASSERT_EQ(open({plain}), 1) << s(errors_.join("\n"));
  EXPECT_EQ(attestation_row(), "not checked (no attestation document open)");
  EXPECT_EQ(attestation_style(), "");
}

TEST_F(AppAttestationTest, AnAttestationWithoutThePolicyIsNotJudged) {
  ASSERT_TRUE(window_->set_nitro_root(box_.file("root.pem")).ok());
  ASSERT_EQ(open({fx_.proposal, box_.document("att.cbor", box_.binding("box-7f3a"), {})}), 2)
      << s(errors_.join("\n"));
  EXPECT_EQ(attestation_row(), "not checked: open the policy to judge the attestation");
}

TEST_F(AppAttestationTest, AnUnparsableAttestationIsRefusedWithTheParsersReason) {
  // A COSE_Sign1 tag followed by something that is not its array.
  const std::string bad = dir_.file("bad.cbor");
  test_util::spit(bad, std::string("\xd2\x01\x02", 3));
  EXPECT_EQ(open({bad}), 0);
  ASSERT_EQ(errors_.size(), 1);
  EXPECT_TRUE(contains(s(errors_[0]), "bad.cbor: ")) << s(errors_[0]);
  auto parsed = nitro::parse(Bytes{0xd2, 0x01, 0x02});
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(contains(s(errors_[0]), parsed.error().message)) << s(errors_[0]);
  EXPECT_FALSE(window_->session().ws().attestation.has_value());
  EXPECT_TRUE(window_->recent_files().isEmpty());
}

TEST_F(AppAttestationTest, AKeyOrRootFileThatCannotBeReadIsRefusedByName) {
  auto missing = window_->set_box_log_key(dir_.file("missing.pub"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error().message, dir_.file("missing.pub"))) << missing.error().message;
  auto not_vkey = window_->set_box_log_key(box_.file("tls.pem"));
  ASSERT_FALSE(not_vkey.ok());
  EXPECT_TRUE(contains(not_vkey.error().message, box_.file("tls.pem"))) << not_vkey.error().message;
  auto not_tls = window_->set_box_tls_key(box_.file("log.pub"));
  ASSERT_FALSE(not_tls.ok());
  EXPECT_TRUE(contains(not_tls.error().message, box_.file("log.pub"))) << not_tls.error().message;
  auto not_root = window_->set_nitro_root(box_.file("log.pub"));
  ASSERT_FALSE(not_root.ok());
  EXPECT_TRUE(contains(not_root.error().message, box_.file("log.pub"))) << not_root.error().message;
  // Nothing changed: no keys, the pinned AWS root.
  const NitroInputs& in = window_->session().ws().nitro;
  EXPECT_FALSE(in.log_key_spki.has_value());
  EXPECT_FALSE(in.tls_key_spki.has_value());
  EXPECT_EQ(in.roots, nitro::pinned_roots());
  EXPECT_TRUE(in.test_root.empty());
  // The key read is the one the binding carries.
  ASSERT_TRUE(window_->set_box_log_key(box_.file("log.pub")).ok());
  EXPECT_EQ(*in.log_key_spki, box_.log_spki());
  ASSERT_TRUE(window_->set_box_tls_key(box_.file("tls.pem")).ok());
  EXPECT_EQ(*in.tls_key_spki, box_.tls_spki());
}

// ---- packages manifests: what changes on the box, with the changelog entries ----------------

// A packages manifest as `countersign packages plan` writes it (cs-hello upgraded, cs-new
// installed, cs-old removed) and its review material, written into the test's directory.
class AppPackagesTest : public AppTest {
 protected:
  void SetUp() override {
    AppTest::SetUp();
    Manifest::Fields f;
    f.kind = "packages";
    f.name = "box-7f3a-packages";
    f.version = "2026-12-04";
    const std::string hello = "pool/main/c/cs-hello/cs-hello_1.1-1_amd64.deb";
    const std::string fresh = "pool/main/c/cs-new/cs-new_1.0-1_all.deb";
    f.files = {{fresh, 900, sha256(std::string_view("new"))}, {hello, 1084, sha256(std::string_view("deb"))}};
    f.sources = {*Source::from_spec("http://127.0.0.1/repo/")};
    f.packages = {{"cs-hello", "amd64", "1.1-1", hello, false, "1.0-1"},
                  {"cs-new", "all", "1.0-1", fresh, false, std::nullopt},
                  {"cs-old", "", "", "", true, "1.0-1"}};
    manifest_ = must(Manifest::create(std::move(f)), "packages manifest");
    manifest_path_ = dir_.file("packages.json");
    app_fixture::must_ok(write_file_atomic(manifest_path_, to_pretty_json(manifest_->to_json())),
                         "write manifest");

    PackagesReview::Fields r;
    r.manifest = manifest_->hash();
    PackageReview hello_review{"cs-hello", "amd64", "1.0-1", "1.1-1", {}, std::nullopt};
    hello_review.changelog = {{"1.1-1", "bookworm; urgency=medium",
                               "  * New upstream release: greets in French as well.\n  * \x1b[2JHidden?\n\n "
                               "-- A <a@example.org>  Mon, 30 Nov 2026 "
                               "10:00:00 +0000"}};
    PackageReview new_review{"cs-new", "all", std::nullopt,
                             "1.0-1",  {},    "the package has no changelog.Debian.gz"};
    r.packages = {hello_review, new_review};
    review_path_ = dir_.file("packages.review.json");
    app_fixture::must_ok(
        write_file_atomic(review_path_, to_pretty_json(must(PackagesReview::create(r), "review").to_json())),
        "write review");
  }

  // The rows a proxy shows, each as "change package installed approved | changelog".
  static std::vector<std::string> rows(QSortFilterProxyModel* proxy) {
    std::vector<std::string> out;
    for (int i = 0; i < proxy->rowCount(); ++i) {
      std::string line;
      for (int c = PackagesModel::kChange; c <= PackagesModel::kApproved; ++c)
        line += (c ? " " : "") + s(proxy->index(i, c).data().toString());
      out.push_back(line + " | " + s(proxy->index(i, PackagesModel::kChangelog).data().toString()));
    }
    return out;
  }

  std::optional<Manifest> manifest_;
  std::string manifest_path_, review_path_;
};

TEST_F(AppPackagesTest, ReviewShowsEachPackageChangeWithItsChangelogEntries) {
  ASSERT_EQ(open({manifest_path_, review_path_}), 2) << s(errors_.join("\n"));
  ReviewView* r = window_->review();
  EXPECT_TRUE(r->packages_table()->isVisibleTo(r));
  EXPECT_FALSE(r->files_table()->isVisibleTo(r));
  EXPECT_EQ(s(r->field("packages")->text()),
            "1 upgraded, 1 new, 1 removed — with the changelog entries of " + review_path_);
  EXPECT_EQ(rows(r->packages_proxy()),
            (std::vector<std::string>{
                "upgrade cs-hello:amd64 1.0-1 1.1-1 | 1.1-1: New upstream release: greets in French as well.",
                "install cs-new:all (new) 1.0-1 | (the package has no changelog.Debian.gz)",
                "remove cs-old 1.0-1 (removed) | "}));
  // The whole entry in the tooltip, every line escaped: the terminal escape is seen, not run.
  const std::string tip =
      s(r->packages_proxy()->index(0, PackagesModel::kChangelog).data(Qt::ToolTipRole).toString());
  EXPECT_TRUE(contains(tip, "1.1-1  bookworm; urgency=medium\n")) << tip;
  EXPECT_TRUE(contains(tip, "  * \\x1b[2JHidden?")) << tip;
  EXPECT_EQ(s(r->packages_proxy()->index(0, PackagesModel::kFile).data().toString()),
            "pool/main/c/cs-hello/cs-hello_1.1-1_amd64.deb");

  // The filter looks at every column: a name, a version, words of the changelog.
  r->filter()->setText(QStringLiteral("french"));
  QElapsedTimer t;
  t.start();
  while (r->packages_proxy()->rowCount() != 1 && t.elapsed() < 3000) {
    QCoreApplication::processEvents();
    QThread::msleep(10);
  }
  ASSERT_EQ(rows(r->packages_proxy()).size(), 1u);
  EXPECT_TRUE(contains(rows(r->packages_proxy())[0], "cs-hello:amd64")) << rows(r->packages_proxy())[0];
}

TEST_F(AppPackagesTest, WithoutReviewMaterialTheChangesAreShownAndTheMissingEntriesSaid) {
  ASSERT_EQ(open({manifest_path_}), 1) << s(errors_.join("\n"));
  ReviewView* r = window_->review();
  EXPECT_EQ(s(r->field("packages")->text()),
            "1 upgraded, 1 new, 1 removed — no review material open (countersign packages plan --review "
            "writes it)");
  EXPECT_EQ(
      rows(r->packages_proxy())[0],
      "upgrade cs-hello:amd64 1.0-1 1.1-1 | (no review material open: countersign packages plan --review)");
  // A model manifest shows its files again, not packages.
  ASSERT_EQ(open({fx_.manifest}), 1) << s(errors_.join("\n"));
  EXPECT_FALSE(r->packages_table()->isVisibleTo(r));
  EXPECT_TRUE(r->files_table()->isVisibleTo(r));
  EXPECT_EQ(r->packages_proxy()->rowCount(), 0);
}

TEST_F(AppPackagesTest, TheReviewOfAnotherManifestIsNotShown) {
  // Review material bound to the fixture's model manifest, not to this packages manifest.
  const Manifest model =
      must(Manifest::parse(nlohmann::json::parse(test_util::slurp(fx_.manifest))), "manifest");
  nlohmann::json review = nlohmann::json::parse(test_util::slurp(review_path_));
  review["manifest"] = digest_to_string(model.hash());
  const std::string other = dir_.file("other.review.json");
  test_util::spit(other, review.dump());
  ASSERT_EQ(open({manifest_path_, other}), 2) << s(errors_.join("\n"));
  ReviewView* r = window_->review();
  EXPECT_EQ(s(r->field("packages")->text()),
            "1 upgraded, 1 new, 1 removed — ⚠ " + other + " is the review of manifest " +
                digest_to_string(model.hash()) + ", not of this one: its changelog entries are not shown");
  EXPECT_TRUE(contains(rows(r->packages_proxy())[0], "(no review material open"))
      << rows(r->packages_proxy())[0];
}

TEST_F(AppPackagesTest, DiffShowsTheChangesAgainstTheBoxsVersions) {
  ASSERT_EQ(open({review_path_, manifest_path_}), 2) << s(errors_.join("\n"));
  DiffView* d = window_->diff();
  EXPECT_EQ(s(d->counts()->text()), "1 upgraded, 1 new, 1 removed");
  EXPECT_TRUE(contains(s(d->metadata()->text()), "Changelog entries from " + review_path_))
      << s(d->metadata()->text());
  EXPECT_TRUE(d->packages_table()->isVisibleTo(d));
  EXPECT_EQ(rows(d->packages_proxy()), rows(window_->review()->packages_proxy()));
  d->filter()->setText(QStringLiteral("cs-old"));
  emit d->filter()->returnPressed();
  ASSERT_EQ(d->packages_proxy()->rowCount(), 1);
  EXPECT_EQ(rows(d->packages_proxy())[0], "remove cs-old 1.0-1 (removed) | ");
}

}  // namespace
}  // namespace countersign::app
