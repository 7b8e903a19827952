// The Log table: one row per entry of an exported audit log (index, time, event, proposal,
// the other members as compact JSON).
#pragma once

#include "app/model/document.h"
#include "app/model/rows_model.h"

namespace countersign::app {

class LogModel : public RowsModel {
  Q_OBJECT

 public:
  enum Column { kIndex, kTime, kEvent, kProposal, kDetails };
  explicit LogModel(QObject* parent = nullptr);
  void set_log(const AuditExport* log);
};

}  // namespace countersign::app
