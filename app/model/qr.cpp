#include "app/model/qr.h"

#include <memory>
#include <string>

#include <qrencode.h>

namespace countersign::app {

Result<QImage> qr_image(std::string_view text, int scale) {
  const std::string copy(text);  // QRencode wants a NUL-terminated string
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(QRcode_encodeString8bit(copy.c_str(), 0, QR_ECLEVEL_M),
                                                       &QRcode_free);
  if (!code) return Error(Errc::kInvalidArgument, "the text is too long for a QR code");
  const int quiet = 4;
  const int side = (code->width + 2 * quiet) * scale;
  QImage img(side, side, QImage::Format_RGB32);
  img.fill(Qt::white);
  for (int y = 0; y < code->width; ++y) {
    for (int x = 0; x < code->width; ++x) {
      const unsigned char module = code->data[y * code->width + x];
      if ((module & 1u) == 0) continue;
      for (int dy = 0; dy < scale; ++dy) {
        for (int dx = 0; dx < scale; ++dx)
          img.setPixel((x + quiet) * scale + dx, (y + quiet) * scale + dy, 0xff000000u);
      }
    }
  }
  return img;
}

}  // namespace countersign::app
