#pragma once

#include <cstdint>
#include <string>

namespace rtseg::framework {

/// "4GiB", "4GB", "4G", "512MiB", "512M", "1.5GiB" or a number of bytes (GB and MB are read as
/// GiB and MiB, as GPU makers and nvidia-smi mean them). Throws sdk::ConfigError naming the text.
std::int64_t parse_memory_size(const std::string& text);

}  // namespace rtseg::framework
