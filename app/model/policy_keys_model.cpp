#include "app/model/policy_keys_model.h"

#include "app/model/workspace.h"

namespace countersign::app {

PolicyKeysModel::PolicyKeysModel(QObject* parent)
    : RowsModel({tr("Approver"), tr("Roles"), tr("Algorithm"), tr("Key id"), tr("PIN / touch"),
                 tr("Hardware attestation")},
                parent) {}

void PolicyKeysModel::set_policy(const Policy* policy, const attestation::Roots& roots) {
  std::vector<QStringList> rows;
  if (policy != nullptr) {
    for (const Approver& a : policy->approvers()) {
      QStringList roles;
      for (const auto& r : a.roles) roles << QString::fromStdString(r);
      for (const PolicyKey& k : a.keys) {
        QString check = is_fido2(k.key.alg()) ? (k.uv ? tr("PIN and touch") : tr("touch only")) : tr("—");
        rows.push_back({QString::fromStdString(a.name == a.id ? a.id : a.name + " (" + a.id + ")"),
                        roles.join(QStringLiteral(", ")),
                        QString::fromStdString(std::string(alg_name(k.key.alg()))),
                        QString::fromStdString(k.key.id().substr(0, 16)), check,
                        QString::fromStdString(key_attestation(k, roots).text)});
      }
    }
  }
  set_rows(std::move(rows));
}

}  // namespace countersign::app
