#include "rtseg/framework/reporting/crc32c.h"

#include <boost/crc.hpp>

namespace rtseg::framework::reporting {

std::uint32_t crc32c(std::string_view bytes) {
  // Reflected CRC-32C with initial value and final XOR 0xFFFFFFFF (Boost's table is built once).
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::uint32_t masked_crc32c(std::string_view bytes) {
  const std::uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

}  // namespace rtseg::framework::reporting
