#include "smartcard/piv/tlv.h"

namespace countersign::piv {

Result<std::vector<Tlv>> parse_tlvs(ByteView data) {
  std::vector<Tlv> out;
  std::size_t i = 0;
  while (i < data.size()) {
    std::uint32_t tag = data[i++];
    if ((tag & 0x1F) == 0x1F) {
      if (i >= data.size()) return make_error(Errc::kMalformed, "TLV: truncated two-byte tag");
      if ((data[i] & 0x80) != 0)
        return make_error(Errc::kMalformed, "TLV: tags longer than two bytes are not expected here");
      tag = (tag << 8) | data[i++];
    }
    if (i >= data.size()) return make_error(Errc::kMalformed, "TLV: missing length");
    std::size_t len = data[i++];
    if (len == 0x81 || len == 0x82) {
      const std::size_t n = len == 0x81 ? 1 : 2;
      if (data.size() - i < n) return make_error(Errc::kMalformed, "TLV: truncated length");
      len = 0;
      for (std::size_t k = 0; k < n; ++k) len = (len << 8) | data[i++];
    } else if (len > 0x7F) {
      return make_error(Errc::kMalformed, "TLV: unsupported length form");
    }
    if (data.size() - i < len) return make_error(Errc::kMalformed, "TLV: value runs past the end");
    out.push_back(Tlv{tag, Bytes(data.begin() + static_cast<std::ptrdiff_t>(i),
                                 data.begin() + static_cast<std::ptrdiff_t>(i + len))});
    i += len;
  }
  return out;
}

std::optional<Bytes> find_tlv(const std::vector<Tlv>& tlvs, std::uint32_t tag) {
  for (const auto& t : tlvs) {
    if (t.tag == tag) return t.value;
  }
  return std::nullopt;
}

void append_tlv(Bytes& out, std::uint32_t tag, ByteView value) {
  if (tag > 0xFF) out.push_back(static_cast<std::uint8_t>(tag >> 8));
  out.push_back(static_cast<std::uint8_t>(tag & 0xFF));
  const std::size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xFF) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xFF));
  }
  out.insert(out.end(), value.begin(), value.end());
}

}  // namespace countersign::piv
