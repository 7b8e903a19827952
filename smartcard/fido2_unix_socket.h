// A FIDO2 authenticator reached over a Unix socket instead of USB HID: for virtual
// authenticators (tests/tools/virtual-fido2) and authenticators forwarded from another
// machine. Device specs:
//   unix:/path/to/socket   a SOCK_SEQPACKET socket carrying one 64-byte CTAPHID report per
//                          packet in each direction (the HID report without its report ID)
//   anything else          a HID path as fido_dev_info_manifest lists it (/dev/hidrawN)
// Above the transport everything is libfido2's own code, as for a USB key.
#pragma once

#include <fido.h>

#include <string>
#include <string_view>

#include "core/result.h"
#include "smartcard/fido2_device.h"

namespace countersign::fido2 {

inline constexpr std::string_view kUnixSocketPrefix = "unix:";

// libfido2 I/O functions over the socket protocol above (path without the "unix:" prefix).
const fido_dev_io_t* unix_socket_io();

// Opens `spec` (see above). Errors as Device::open.
Result<Device> open_device(const std::string& spec, int timeout_ms = 60000);

}  // namespace countersign::fido2
