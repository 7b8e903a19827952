#include "app/model/format.h"

#include "core/untrusted_text.h"

namespace countersign::app {

QString grouped(std::uint64_t n) {
  QString digits = QString::number(n);
  for (qsizetype i = digits.size() - 3; i > 0; i -= 3) digits.insert(i, QLatin1Char(','));
  return digits;
}

QString untrusted(std::string_view text) { return QString::fromStdString(escape_untrusted(text)); }

}  // namespace countersign::app
