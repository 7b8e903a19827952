#include "app/policy_view.h"

#include <QHeaderView>
#include <QVBoxLayout>

#include "app/ui_util.h"

namespace countersign::app {

PolicyView::PolicyView(Session& session, QWidget* parent)
    : View(session, parent), model_(new PolicyKeysModel(this)) {
  auto* layout = new QVBoxLayout(this);
  header_ = value_label(this);
  QFont big = header_->font();
  big.setBold(true);
  header_->setFont(big);
  layout->addWidget(header_);
  rules_ = value_label(this);
  layout->addWidget(rules_);
  liveness_ = value_label(this);
  liveness_->setFont(fixed_font());
  layout->addWidget(liveness_);
  table_ = new QTableView(this);
  table_->setModel(model_);
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(PolicyKeysModel::kAttestation, QHeaderView::Stretch);
  table_->setColumnWidth(PolicyKeysModel::kApprover, 200);
  table_->setColumnWidth(PolicyKeysModel::kKeyId, 150);
  layout->addWidget(table_, 1);
}

void PolicyView::refresh() {
  const Workspace& ws = session_.ws();
  if (!ws.policy) {
    header_->setText(tr("No policy open. Open the policy of the domain (Ctrl+O)."));
    rules_->clear();
    liveness_->clear();
    model_->set_policy(nullptr, ws.attestation_roots);
    return;
  }
  const Policy& p = *ws.policy;
  header_->setText(tr("Policy for %1, version %2 — %3 approvers\n%4")
                       .arg(q(p.domain()))
                       .arg(p.version())
                       .arg(p.approvers().size())
                       .arg(q(digest_to_string(p.hash()))));
  QStringList rules;
  for (Action action : kAllActions) {
    const Rule* rule = p.rule_for(action);
    QString line = q(std::string(action_name(action))) + QStringLiteral(": ");
    if (rule == nullptr) {
      rules << line + tr("not allowed (no rule)");
      continue;
    }
    line += tr("%1 of %2").arg(rule->threshold).arg(rule->of ? rule->of->size() : p.approvers().size());
    if (rule->of) {
      QStringList ids;
      for (const auto& id : *rule->of) ids << q(id);
      line += QStringLiteral(" {") + ids.join(QStringLiteral(", ")) + QStringLiteral("}");
    }
    for (const auto& role : rule->require_roles) line += tr(", needs someone from %1").arg(q(role));
    if (rule->require_attestation) line += tr(", hardware-attested keys only");
    if (rule->exclude_proposer) line += tr(", not counting the proposer's own signature");
    if (rule->attested_image) line += tr(", only on a box attested to run an approved image");
    if (rule->veto) line += tr("; %n veto(es) end a proposal", "", static_cast<int>(*rule->veto));
    rules << line;
  }
  rules_->setText(tr("Rules\n") + rules.join(QStringLiteral("\n")));
  const QString days =
      p.liveness_days()
          ? tr("Liveness: approvers must prove their keys every %1 days.\n").arg(*p.liveness_days())
          : tr("Liveness: the policy sets no liveness_days.\n");
  auto live = countersign::app::liveness(ws, session_.now());
  liveness_->setText(days + (live.ok() ? q(live->to_text(session_.now())) : q(live.error().message)));
  model_->set_policy(&p, ws.attestation_roots);
}

}  // namespace countersign::app
