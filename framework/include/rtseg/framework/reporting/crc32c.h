#pragma once

#include <cstdint>
#include <string_view>

namespace rtseg::framework::reporting {

/// CRC-32C (Castagnoli), as TFRecord framing uses it: crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(std::string_view bytes);

/// The "masked" CRC that TFRecord files store, ((crc >> 15) | (crc << 17)) + 0xA282EAD8: a CRC of
/// data that itself holds CRCs is then not a fixed point of the check.
std::uint32_t masked_crc32c(std::string_view bytes);

}  // namespace rtseg::framework::reporting
