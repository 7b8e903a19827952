#include "app/model/approvers_model.h"

#include <QColor>

#include "app/model/format.h"

namespace countersign::app {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString roles_text(const Approver& a) {
  QStringList r;
  for (const auto& role : a.roles) r << q(role);
  return r.join(QStringLiteral(", "));
}

}  // namespace

ApproversModel::ApproversModel(QObject* parent)
    : RowsModel({tr("Approver"), tr("Roles"), tr("State"), tr("Detail")}, parent) {}

QString ApproversModel::state_name(State s) {
  switch (s) {
    case State::kCounted:
      return tr("counted");
    case State::kInvalid:
      return tr("invalid");
    case State::kMissing:
      return tr("missing");
    case State::kNotAllowed:
      return tr("not allowed");
    case State::kUnchecked:
      return tr("not checked");
    case State::kVetoed:
      return tr("vetoed");
    case State::kProposer:
      return tr("proposer");
  }
  return {};
}

void ApproversModel::set_state(const Workspace& ws, const Approval* approval) {
  std::vector<QStringList> rows;
  states_.clear();
  auto add = [&](QStringList row, State s) {
    rows.push_back(std::move(row));
    states_.push_back(s);
  };
  if (approval == nullptr || !ws.policy) {
    for (const auto& s : ws.signatures) {
      const auto& f = s.signature.fields();
      add({q(f.signer.value_or("(no name)")), QString(), state_name(State::kUnchecked),
           tr("key %1 — open the policy to check it").arg(q(s.signature.key().substr(0, 16)))},
          State::kUnchecked);
    }
    set_rows(std::move(rows));
    return;
  }
  const VerifyReport& r = approval->report;
  for (const Approver& a : ws.policy->approvers()) {
    const QString who =
        a.name == a.id ? q(a.id) : q(a.name) + QStringLiteral(" (") + q(a.id) + QStringLiteral(")");
    const bool counted = std::find(r.counted.begin(), r.counted.end(), a.id) != r.counted.end();
    if (std::find(r.vetoed_by.begin(), r.vetoed_by.end(), a.id) != r.vetoed_by.end()) {
      add({who, roles_text(a), state_name(State::kVetoed),
           counted ? tr("vetoed this proposal (and also signed it)") : tr("vetoed this proposal")},
          State::kVetoed);
      continue;
    }
    if (counted) {
      add({who, roles_text(a), state_name(State::kCounted), tr("signature valid")}, State::kCounted);
      continue;
    }
    const SignatureVerdict* bad = nullptr;
    for (const auto& v : r.signatures) {
      if (v.approver_id == a.id) bad = &v;
    }
    if (bad == nullptr) {
      for (const auto& v : r.vetoes) {
        if (v.approver_id == a.id) bad = &v;
      }
    }
    if (bad != nullptr) {
      const State s = bad->status == SignatureVerdict::Status::kNotAllowed ? State::kNotAllowed
                      : bad->status == SignatureVerdict::Status::kProposer ? State::kProposer
                                                                           : State::kInvalid;
      add({who, roles_text(a), state_name(s),
           q(std::string(verdict_name(bad->status))) + QStringLiteral(": ") + q(bad->reason)},
          s);
      continue;
    }
    if (r.rule && !r.rule->allows(a.id)) {
      add({who, roles_text(a), state_name(State::kNotAllowed), tr("the rule does not count this approver")},
          State::kNotAllowed);
      continue;
    }
    add({who, roles_text(a), state_name(State::kMissing), tr("has not signed yet")}, State::kMissing);
  }
  for (const auto& v : r.signatures) {
    if (!v.approver_id.empty()) continue;
    const auto& f = ws.signatures[v.index].signature.fields();
    add({tr("unknown key %1").arg(q(v.key_id.substr(0, 16))), QString(), state_name(State::kInvalid),
         q(v.reason) + (f.signer ? tr(" (says it is from %1)").arg(untrusted(*f.signer)) : QString())},
        State::kInvalid);
  }
  for (const auto& v : r.vetoes) {
    if (!v.approver_id.empty()) continue;
    add({tr("unknown key %1").arg(q(v.key_id.substr(0, 16))), QString(), state_name(State::kInvalid),
         tr("veto: ") + q(v.reason)},
        State::kInvalid);
  }
  set_rows(std::move(rows));
}

QVariant ApproversModel::row_decoration(int row) const {
  if (row < 0 || static_cast<std::size_t>(row) >= states_.size()) return {};
  switch (states_[static_cast<std::size_t>(row)]) {
    case State::kCounted:
      return QColor(0x1b, 0x7f, 0x3b);
    case State::kInvalid:
      return QColor(0xb3, 0x26, 0x1e);
    case State::kMissing:
      return QColor(0x9e, 0x9e, 0x9e);
    case State::kVetoed:
      return QColor(0x6a, 0x1b, 0x9a);
    default:
      return {};
  }
}

}  // namespace countersign::app
