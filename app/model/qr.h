// QR codes (libqrencode) for moving a signature off an air-gapped laptop by camera.
#pragma once

#include <QImage>
#include <string_view>

#include "core/result.h"

namespace countersign::app {

// A black-on-white QR code of `text` (byte mode, error correction M) with a 4-module quiet
// zone, `scale` pixels per module. kInvalidArgument when the text does not fit a QR code.
Result<QImage> qr_image(std::string_view text, int scale = 6);

}  // namespace countersign::app
