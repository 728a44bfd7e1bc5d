#include "factory.h"

#include "lwdetr_decoder.h"
#include "options.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::lwdetr {

sdk::ComponentFactory<sdk::Decoder> lwdetr_factory() {
  auto factory = sdk::make_factory<sdk::Decoder>(
      "RF-DETR's LW-DETR decoder: two-stage proposals, group DETR, deformable cross-attention",
      &lwdetr_options_from, &make_lwdetr);
  factory.create = [](sdk::ConfigReader& reader, const sdk::BuildContext& context) {
    LwDetrOptions options = lwdetr_options_from(reader);
    for (const LwDetrProblem& problem : lwdetr_problems(options, context)) {
      if (!problem.key.empty()) reader.fail(problem.key, problem.message);
    }
    return std::unique_ptr<sdk::Decoder>(make_lwdetr(std::move(options), context));
  };
  return factory;
}

}  // namespace rtseg::plugins::lwdetr
