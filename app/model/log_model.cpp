#include "app/model/log_model.h"

#include "core/jcs.h"

namespace countersign::app {

LogModel::LogModel(QObject* parent)
    : RowsModel({tr("#"), tr("Time"), tr("Event"), tr("Proposal"), tr("Details")}, parent) {}

void LogModel::set_log(const AuditExport* log) {
  std::vector<QStringList> rows;
  if (log != nullptr) {
    rows.reserve(log->lines.size());
    for (const auto& line : log->lines) {
      auto entry = jcs::parse(line.entry);  // checked by parse_export_line already
      if (!entry.ok() || !entry->is_object()) continue;
      nlohmann::json rest = *entry;
      auto take = [&rest](const char* key) {
        std::string v;
        if (rest.contains(key) && rest[key].is_string()) v = rest[key].get<std::string>();
        rest.erase(key);
        return QString::fromStdString(v);
      };
      rest.erase("seq");
      const QString time = take("time");
      const QString event = take("event");
      const QString proposal = take("proposal");
      auto details = jcs::serialize(rest);
      rows.push_back({QString::number(line.index), time, event, proposal.left(23),
                      QString::fromStdString(details.ok() && rest.size() > 0 ? *details : std::string())});
    }
  }
  set_rows(std::move(rows));
}

}  // namespace countersign::app
