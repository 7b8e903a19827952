#include "app/model/format.h"

namespace countersign::app {

QString grouped(std::uint64_t n) {
  QString digits = QString::number(n);
  for (qsizetype i = digits.size() - 3; i > 0; i -= 3) digits.insert(i, QLatin1Char(','));
  return digits;
}

}  // namespace countersign::app
