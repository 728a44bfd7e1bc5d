// Decoder-only parity with RF-DETR 1.4.1 on configurations the shared fixtures do not cover (two
// levels with padding, sigmoid boxes with per-layer refinement, one stage). The reference files
// are made at test time by make_decoder_fixtures.py, which runs RF-DETR's own LWDETR +
// Transformer around given feature maps (weights, inputs, every eval and train output, and for
// one file the gradients). It needs RF-DETR's sources (RFDETR_SRC, or ../rfdetr_src beside the
// checkout) and python3 with torch; without them these tests skip.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include "lwdetr_decoder.h"
#include "rtseg/sdk/safetensors.h"
#include "test_helpers.h"

namespace rtseg::plugins::lwdetr {
namespace {

using testing::max_difference;

// Where RF-DETR's sources are, or empty.
std::filesystem::path rfdetr_sources() {
  const char* env = std::getenv("RFDETR_SRC");
  const std::filesystem::path dir = env ? std::filesystem::path(env)
                                        : std::filesystem::path(RTSEG_SOURCE_DIR) / ".." / "rfdetr_src";
  return std::filesystem::exists(dir / "rfdetr" / "models" / "lwdetr.py") ? dir : std::filesystem::path();
}

// The reference files, made once per build folder; empty when they cannot be made.
std::filesystem::path reference_data() {
  static const std::filesystem::path data = [] {
    const std::filesystem::path sources = rfdetr_sources();
    if (sources.empty()) return std::filesystem::path();
    const std::filesystem::path out = std::filesystem::path(RTSEG_BINARY_DIR) / "plugins/lwdetr/rfdetr_reference";
    if (std::filesystem::exists(out / "rfdetr_one_stage.safetensors")) return out;
    for (const char* python : {"/usr/bin/python3", "python3"}) {
      const std::string command = std::string(python) + " " + RTSEG_SOURCE_DIR +
                                  "/plugins/lwdetr/tests/make_decoder_fixtures.py --rfdetr-src " +
                                  sources.string() + " --out " + out.string() + " >/dev/null 2>&1";
      if (std::system(command.c_str()) == 0) return out;
    }
    return std::filesystem::path();
  }();
  return data;
}
constexpr double kTolerance = 1e-5;

struct Fixture {
  sdk::SafetensorsFile file;
  std::unique_ptr<LwDetrDecoder> decoder;
  std::vector<torch::Tensor> features, masks;
};

std::int64_t meta_int(const sdk::SafetensorsFile& file, const std::string& key) {
  return std::stoll(file.metadata().at(key));
}
bool meta_bool(const sdk::SafetensorsFile& file, const std::string& key) {
  return file.metadata().at(key) == "true";
}

Fixture load(const std::string& name) {
  Fixture f{sdk::SafetensorsFile::open(reference_data() / (name + ".safetensors")), nullptr, {}, {}};
  LwDetrOptions o;
  o.dec_layers = meta_int(f.file, "dec_layers");
  o.sa_nheads = meta_int(f.file, "sa_nheads");
  o.ca_nheads = meta_int(f.file, "ca_nheads");
  o.dec_n_points = meta_int(f.file, "dec_n_points");
  o.dim_feedforward = meta_int(f.file, "dim_feedforward");
  o.group_detr = meta_int(f.file, "group_detr");
  o.two_stage = meta_bool(f.file, "two_stage");
  o.bbox_reparam = meta_bool(f.file, "bbox_reparam");
  o.lite_refpoint_refine = meta_bool(f.file, "lite_refpoint_refine");
  const std::string norm = f.file.metadata().at("decoder_norm");
  o.decoder_norm = norm.substr(1, norm.size() - 2);  // JSON string
  sdk::BuildContext context;
  context.model.hidden_dim = meta_int(f.file, "hidden_dim");
  context.model.num_queries = meta_int(f.file, "num_queries");
  context.model.num_classes = meta_int(f.file, "num_classes");
  for (int l = 0; f.file.contains("input.level" + std::to_string(l)); ++l) {
    f.features.push_back(f.file.get("input.level" + std::to_string(l)).clone());
    f.masks.push_back(f.file.get("input.mask" + std::to_string(l)).to(torch::kBool));
    context.inputs.push_back({"level" + std::to_string(l), context.model.hidden_dim, 16});
  }
  f.decoder = make_lwdetr(o, context);

  // Strict load: the decoder's parameters are exactly the file's weights, by name and shape.
  std::set<std::string> weights;
  for (const std::string& key : f.file.names()) {
    if (key.rfind("input.", 0) && key.rfind("eval.", 0) && key.rfind("train.", 0) &&
        key.rfind("grad.", 0)) {
      weights.insert(key);
    }
  }
  std::set<std::string> ours;
  torch::NoGradGuard no_grad;
  for (auto& parameter : f.decoder->named_parameters()) {
    ours.insert(parameter.key());
    EXPECT_TRUE(f.file.contains(parameter.key())) << parameter.key();
    if (!f.file.contains(parameter.key())) continue;
    const torch::Tensor value = f.file.get(parameter.key());
    EXPECT_EQ(parameter.value().sizes(), value.sizes()) << parameter.key();
    parameter.value().copy_(value);
  }
  EXPECT_EQ(ours, weights);
  return f;
}

std::map<std::string, torch::Tensor> named_outputs(const sdk::DecoderOutputs& out,
                                                   const std::string& mode) {
  std::map<std::string, torch::Tensor> named;
  for (std::size_t l = 0; l < out.layers.size(); ++l) {
    const std::string prefix = mode + ".layer" + std::to_string(l) + ".";
    named[prefix + "logits"] = out.layers[l].logits;
    named[prefix + "boxes"] = out.layers[l].boxes;
    named[prefix + "features"] = out.layers[l].features;
  }
  if (out.encoder.logits.defined()) {
    named[mode + ".encoder.logits"] = out.encoder.logits;
    named[mode + ".encoder.boxes"] = out.encoder.boxes;
    named[mode + ".encoder.features"] = out.encoder.features;
  }
  return named;
}

void expect_outputs_match(const Fixture& f, const std::map<std::string, torch::Tensor>& outputs,
                          const std::string& mode) {
  std::size_t expected = 0;
  for (const std::string& key : f.file.names()) expected += key.rfind(mode + ".", 0) == 0;
  EXPECT_EQ(outputs.size(), expected) << mode;
  for (const auto& [key, value] : outputs) {
    ASSERT_TRUE(f.file.contains(key)) << key;
    const torch::Tensor reference = f.file.get(key);
    ASSERT_EQ(value.sizes(), reference.sizes()) << key;
    EXPECT_LE(max_difference(value.detach(), reference), kTolerance) << key;
  }
}

class DecoderParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_P(DecoderParity, EvalAndTrainOutputsMatchRfDetr) {
  if (reference_data().empty()) {
    GTEST_SKIP() << "RF-DETR's sources (RFDETR_SRC or ../rfdetr_src) or python3 with torch not "
                    "found; decoder-only parity not checked (the full-model parity tests still run)";
  }
  Fixture f = load(GetParam());
  f.decoder->eval();
  {
    torch::NoGradGuard no_grad;
    const sdk::DecoderOutputs out = f.decoder->forward(f.features, f.masks);
    EXPECT_EQ(out.num_groups, 1);
    expect_outputs_match(f, named_outputs(out, "eval"), "eval");
  }
  f.decoder->train();
  const sdk::DecoderOutputs out = f.decoder->forward(f.features, f.masks);
  EXPECT_EQ(out.num_groups, f.decoder->options().group_detr);
  const auto outputs = named_outputs(out, "train");
  expect_outputs_match(f, outputs, "train");

  // Gradients of the sum of every output's mean, where the fixture has them.
  bool has_grads = false;
  for (const std::string& key : f.file.names()) has_grads |= key.rfind("grad.", 0) == 0;
  if (!has_grads) return;
  torch::Tensor loss = torch::zeros({});
  for (const auto& entry : outputs) loss = loss + entry.second.mean();
  loss.backward();
  for (const auto& parameter : f.decoder->named_parameters()) {
    const std::string key = "grad." + parameter.key();
    ASSERT_TRUE(f.file.contains(key)) << key;
    ASSERT_TRUE(parameter.value().grad().defined()) << key;
    EXPECT_LE(max_difference(parameter.value().grad(), f.file.get(key)), kTolerance) << key;
  }
}

// The decoder's state dict is exactly the decoder part of RF-DETR's tiny model checkpoint.
TEST(RfDetrCheckpoint, DecoderParametersMatchTheTinyModelByNameAndShape) {
  const std::filesystem::path weights =
      std::filesystem::path(RTSEG_RFDETR_FIXTURES) / "tiny_det" / "weights.safetensors";
  if (!std::filesystem::exists(weights)) GTEST_SKIP() << "no RF-DETR fixtures at " << weights;
  const sdk::SafetensorsFile file = sdk::SafetensorsFile::open(weights);
  std::map<std::string, std::vector<std::int64_t>> expected, ours;
  for (const std::string& name : file.names()) {
    if (name.rfind("backbone.", 0) == 0 || name.rfind("segmentation_head.", 0) == 0) continue;
    expected[name] = file.get(name).sizes().vec();
  }
  auto decoder = make_lwdetr(testing::tiny_options(), testing::tiny_context());
  for (const auto& parameter : decoder->named_parameters()) {
    ours[parameter.key()] = parameter.value().sizes().vec();
  }
  EXPECT_EQ(ours, expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderParity,
                         ::testing::Values("rfdetr_default", "rfdetr_sigmoid_refine",
                                           "rfdetr_one_stage"));

}  // namespace
}  // namespace rtseg::plugins::lwdetr
