#include "app/review_view.h"

#include "app/model/box_attestation.h"
#include "app/model/format.h"
#include "core/review.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QScrollArea>
#include <QVBoxLayout>

#include "app/model/fingerprint.h"
#include "app/ui_util.h"
#include "core/manifest_diff.h"
#include "core/review.h"

namespace countersign::app {

namespace {

// "alice — the rule for install-model does not count their own signature", and, with the
// box's log open, whether the rule can still be met by approvers who proved their keys.
QString proposer_text(const Workspace& ws, UnixTime now) {
  const Proposal& p = *ws.proposal;
  QStringList parts;
  parts << (p.proposer() ? untrusted(*p.proposer()) : QObject::tr("(not named)"));
  const Rule* rule = ws.policy ? ws.policy->rule_for(p.action()) : nullptr;
  if (p.proposer() && ws.policy && ws.policy->find_approver(*p.proposer()) == nullptr) {
    parts << QObject::tr("not an approver of the open policy");
  }
  if (p.proposer() && rule != nullptr && rule->exclude_proposer) {
    parts << QObject::tr("the rule for %1 does not count their own signature")
                 .arg(QString::fromStdString(std::string(action_name(p.action()))));
  }
  if (auto live = liveness(ws, now); live.ok()) {
    for (const auto& w : live->warnings) {
      if (w.action == p.action()) parts << QObject::tr("warning: %1").arg(QString::fromStdString(w.message));
    }
  }
  return parts.join(QStringLiteral(" — "));
}

// Green for an approved image, amber (bold) for one checked against a test root, red and
// bold for NOT APPROVED and NOT CHECKED; as the Log and Verify views colour their verdicts.
QString tone_style(BoxAttestationLine::Tone tone) {
  switch (tone) {
    case BoxAttestationLine::Tone::kApproved:
      return QStringLiteral("color: #1b7f3b");
    case BoxAttestationLine::Tone::kWarning:
      return QStringLiteral("color: #8a5300; font-weight: bold");
    case BoxAttestationLine::Tone::kRefused:
      return QStringLiteral("color: #b3261e; font-weight: bold");
    case BoxAttestationLine::Tone::kPlain:
      break;
  }
  return QString();
}

}  // namespace

ReviewView::ReviewView(Session& session, QWidget* parent)
    : View(session, parent),
      files_(new ManifestFilesModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      packages_(new PackagesModel(this)),
      packages_proxy_(new QSortFilterProxyModel(this)) {
  auto* layout = new QVBoxLayout(this);

  auto* proposal_box = new QGroupBox(tr("Proposal"), this);
  auto* pform = new QFormLayout(proposal_box);
  add_field(pform, "action", tr("Action"));
  add_field(pform, "domain", tr("Domain"));
  add_field(pform, "boxes", tr("Boxes"));
  add_field(pform, "attestation", tr("Box attestation"));
  add_field(pform, "note", tr("Why (note)"));
  add_field(pform, "proposer", tr("Proposed by"));
  add_field(pform, "created", tr("Proposed at"));
  add_field(pform, "expires", tr("Expires"));
  add_field(pform, "id", tr("Proposal id"))->setFont(fixed_font());
  QLabel* words = add_field(pform, "words", tr("Say aloud"));
  QFont big = words->font();
  big.setPointSizeF(big.pointSizeF() * 1.4);
  big.setBold(true);
  words->setFont(big);
  add_field(pform, "approves", tr("Approves"))->setFont(fixed_font());
  layout->addWidget(proposal_box);

  auto* manifest_box = new QGroupBox(tr("Manifest"), this);
  auto* mlayout = new QVBoxLayout(manifest_box);
  auto* mform = new QFormLayout();
  add_field(mform, "name", tr("Name"));
  add_field(mform, "version", tr("Version"));
  add_field(mform, "license", tr("License"));
  add_field(mform, "sources", tr("Sources (in order)"));
  add_field(mform, "size", tr("Files"));
  add_field(mform, "packages", tr("Packages"));
  manifest_form_ = mform;
  mlayout->addLayout(mform);

  filter_ = new QLineEdit(manifest_box);
  filter_->setPlaceholderText(tr("Filter files by path (Ctrl+F)"));
  filter_->setClearButtonEnabled(true);
  mlayout->addWidget(filter_);
  table_ = file_table(manifest_box, proxy_, files_, ManifestFilesModel::kPath, ManifestFilesModel::kSortRole,
                      ManifestFilesModel::kPath);
  table_->setAlternatingRowColors(true);
  table_->horizontalHeader()->setSectionResizeMode(ManifestFilesModel::kSha256, QHeaderView::Interactive);
  table_->setColumnWidth(ManifestFilesModel::kSha256, 260);
  mlayout->addWidget(table_, 1);
  packages_table_ = package_table(manifest_box, packages_proxy_, packages_);
  packages_table_->hide();
  mlayout->addWidget(packages_table_, 1);
  layout->addWidget(manifest_box, 1);

  // Filtering 100,000 rows on each key press would lag; wait until typing pauses.
  filter_timer_.setSingleShot(true);
  filter_timer_.setInterval(150);
  connect(filter_, &QLineEdit::textChanged, this, [this] { filter_timer_.start(); });
  connect(&filter_timer_, &QTimer::timeout, this, [this] {
    proxy_->setFilterFixedString(filter_->text());
    packages_proxy_->setFilterFixedString(filter_->text());
  });
}

QLabel* ReviewView::add_field(QFormLayout* form, const QString& name, const QString& label) {
  QLabel* l = value_label(this);
  form->addRow(label + QStringLiteral(":"), l);
  fields_[name] = l;
  return l;
}

void ReviewView::show_packages(const Workspace& ws) {
  const bool packages = ws.manifest && ws.manifest->is_packages();
  table_->setVisible(!packages);
  packages_table_->setVisible(packages);
  filter_->setPlaceholderText(packages ? tr("Filter packages by name, version or changelog (Ctrl+F)")
                                       : tr("Filter files by path (Ctrl+F)"));
  QLabel* changes = field("packages");
  changes->clear();
  manifest_form_->setRowVisible(changes, packages);
  if (!packages) {
    packages_->clear();
    return;
  }
  const PackagesReview* review = ws.packages_review_for_manifest();
  packages_->set_manifest(*ws.manifest, review);
  QString text = q(package_change_counts(*ws.manifest)) + QStringLiteral(" — ");
  if (review) {
    text += tr("with the changelog entries of %1").arg(q(ws.packages_review_path));
  } else if (ws.packages_review) {
    text += tr("⚠ %1 is the review of manifest %2, not of this one: its changelog entries are not shown")
                .arg(q(ws.packages_review_path), q(digest_to_string(ws.packages_review->manifest())));
  } else {
    text += tr("no review material open (countersign packages plan --review writes it)");
  }
  changes->setText(text);
}

QLabel* ReviewView::field(const QString& name) const {
  auto it = fields_.find(name);
  return it == fields_.end() ? nullptr : it->second;
}

void ReviewView::refresh() {
  const Workspace& ws = session_.ws();
  for (auto& [name, label] : fields_) label->clear();
  QLabel* attestation = field("attestation");
  attestation->setStyleSheet(QString());
  if (ws.proposal || ws.attestation) {
    const BoxAttestationLine line = box_attestation(ws, session_.now());
    attestation->setText(q(line.text));
    attestation->setStyleSheet(tone_style(line.tone));
  }
  if (ws.proposal) {
    const Proposal& p = *ws.proposal;
    field("action")->setText(q(std::string(action_name(p.action()))) + QStringLiteral(" — ") +
                             q(std::string(action_description(p.action()))));
    field("domain")->setText(untrusted(p.domain()));
    QStringList boxes;
    if (p.boxes()) {
      for (const auto& b : *p.boxes()) boxes << untrusted(b);
    }
    field("boxes")->setText(p.boxes() ? boxes.join(QStringLiteral(", ")) : tr("any box of the domain"));
    field("note")->setText(p.note() ? untrusted(*p.note()) : tr("(no note: ask the proposer why)"));
    field("proposer")->setText(proposer_text(ws, session_.now()));
    field("created")->setText(q(format_rfc3339(p.created())));
    field("expires")->setText(q(expiry_text(p.expires(), session_.now())));
    const Fingerprint f = fingerprint(p.id());
    field("id")->setText(q(f.hex_groups));
    field("words")->setText(q(f.words_text()));
    field("approves")
        ->setText(
            q(digest_to_string(p.manifest())) +
            (p.previous() ? QStringLiteral("\nreplaces ") + q(digest_to_string(*p.previous())) : QString()));
  } else {
    field("action")->setText(tr("No proposal open. Open one with File ▸ Open (Ctrl+O) or drop it here."));
  }
  if (ws.manifest) {
    const Manifest& m = *ws.manifest;
    field("name")->setText(untrusted(m.name()) + (m.description()
                                                      ? QStringLiteral(" — ") + untrusted(*m.description())
                                                      : QString()));
    field("version")->setText(untrusted(m.version()));
    field("license")->setText(
        untrusted(m.license().spdx) +
        (m.license().url ? QStringLiteral("  ") + untrusted(*m.license().url) : QString()));
    QStringList sources;
    int n = 1;
    for (const auto& s : m.sources()) sources << QStringLiteral("%1. ").arg(n++) + untrusted(s.describe());
    field("sources")->setText(sources.join(QStringLiteral("\n")));
    field("size")->setText(tr("%1 files, %2 (%3 bytes)")
                               .arg(grouped(m.files().size()))
                               .arg(q(human_size(m.total_size())))
                               .arg(grouped(m.total_size())));
    show_packages(ws);
    if (ws.proposal && m.hash() != ws.proposal->manifest()) {
      field("name")->setText(field("name")->text() +
                             tr("\n⚠ This is NOT the manifest the proposal approves."));
    }
    if (shown_manifest_ != m.hash()) {
      files_->set_files(m.files());
      shown_manifest_ = m.hash();
    }
  } else {
    field("name")->setText(tr("No manifest open."));
    files_->set_files({});
    shown_manifest_.reset();
    show_packages(ws);
  }
}

}  // namespace countersign::app
