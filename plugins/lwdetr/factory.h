#pragma once

#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/registrar.h"

namespace rtseg::plugins::lwdetr {

/// Reads, documents and builds the "lwdetr" decoder. Problems that involve one of the
/// section's options (head counts against model.hidden_dim) are reported at that key.
sdk::ComponentFactory<sdk::Decoder> lwdetr_factory();

}  // namespace rtseg::plugins::lwdetr
