#include "rtseg/framework/weights.h"

#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/sdk/errors.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

namespace fs = std::filesystem;
using rtseg::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

// Registers `value` under a dotted name, creating the intermediate modules.
void add(torch::nn::Module& root, const std::string& dotted, const at::Tensor& value,
         bool buffer = false) {
  torch::nn::Module* module = &root;
  std::size_t start = 0;
  for (std::size_t dot = dotted.find('.'); dot != std::string::npos;
       dot = dotted.find('.', start)) {
    const std::string part = dotted.substr(start, dot - start);
    auto children = module->named_children();
    const auto* child = children.find(part);
    module = child ? child->get()
                   : module->register_module(part, std::make_shared<torch::nn::Module>()).get();
    start = dot + 1;
  }
  if (buffer) {
    module->register_buffer(dotted.substr(start), value);
  } else {
    module->register_parameter(dotted.substr(start), value);
  }
}

std::shared_ptr<torch::nn::Module> model_of(const Tensors& parameters,
                                            const Tensors& buffers = {}) {
  auto model = std::make_shared<torch::nn::Module>();
  for (const auto& [name, value] : parameters) add(*model, name, value.clone());
  for (const auto& [name, value] : buffers) add(*model, name, value.clone(), /*buffer=*/true);
  return model;
}

at::Tensor floats(const std::vector<float>& values) { return at::tensor(values); }

at::Tensor param(torch::nn::Module& model, const std::string& name) {
  return model.named_parameters()[name];
}

sdk::SafetensorsFile file_of(const TempDir& dir, const Tensors& tensors) {
  const fs::path path = dir / "w.safetensors";
  sdk::save_safetensors(path, tensors);
  return sdk::SafetensorsFile::open(path);
}

TEST(LoadState, CopiesParametersAndBuffersIntoTheirDtype) {
  TempDir dir;
  auto model = model_of({{"a.weight", at::zeros({2, 3})}, {"b", at::zeros({4})}},
                        {{"stats.mean", at::zeros({3}, at::kLong)}});
  const auto file = file_of(dir, {{"a.weight", at::arange(0, 6).to(at::kDouble).view({2, 3})},
                                  {"b", at::full({4}, 2.5)},
                                  {"stats.mean", at::arange(0, 3).to(at::kInt)}});
  const LoadReport report = load_state(*model, file);
  EXPECT_THAT(report.loaded, ElementsAre("b", "a.weight", "stats.mean"));  // model order
  EXPECT_THAT(report.missing, IsEmpty());
  EXPECT_THAT(report.resized, IsEmpty());
  const at::Tensor weight = param(*model, "a.weight");
  EXPECT_EQ(weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(weight.requires_grad());
  EXPECT_FALSE(weight.grad_fn());  // still a leaf: copied without recording
  EXPECT_TRUE(at::equal(weight, at::arange(0, 6).to(at::kFloat).view({2, 3})));
  EXPECT_EQ(model->named_buffers()["stats.mean"].scalar_type(), at::kLong);
  EXPECT_EQ(model->named_buffers()["stats.mean"][2].item<std::int64_t>(), 2);
}

TEST(LoadState, NonStrictLoadsWhatFitsAndReportsTheRest) {
  TempDir dir;
  auto model = model_of({{"kept", at::zeros({2})},
                         {"only_model", at::zeros({2})},
                         {"other_shape", at::zeros({3, 3})}});
  const auto file = file_of(
      dir,
      {{"kept", at::ones({2})}, {"other_shape", at::ones({2, 3})}, {"only_file", at::ones({1})}});
  LoadOptions options;
  options.strict = false;
  const LoadReport report = load_state(*model, file, options);
  EXPECT_THAT(report.loaded, ElementsAre("kept"));
  EXPECT_THAT(report.missing, ElementsAre("only_model"));
  EXPECT_THAT(report.unexpected, ElementsAre("only_file"));
  EXPECT_THAT(report.shape_mismatches, ElementsAre("other_shape: file [2, 3] vs model [3, 3]"));
  EXPECT_EQ(param(*model, "kept")[0].item<float>(), 1.0f);
  EXPECT_EQ(param(*model, "other_shape").abs().sum().item<float>(), 0.0f);
}

TEST(LoadState, StrictFailureListsEverythingAndChangesNothing) {
  TempDir dir;
  auto model = model_of({{"kept", at::zeros({2})},
                         {"only_model", at::zeros({2})},
                         {"other_shape", at::zeros({3, 3})}});
  const auto file = file_of(
      dir,
      {{"kept", at::ones({2})}, {"other_shape", at::ones({2, 3})}, {"only_file", at::ones({1})}});
  try {
    load_state(*model, file);
    FAIL() << "no error";
  } catch (const sdk::DataError& error) {
    const std::string text = error.what();
    EXPECT_THAT(text, HasSubstr((dir / "w.safetensors").string()));
    EXPECT_THAT(text, HasSubstr("(1 missing, 1 unexpected, 1 with another shape)"));
    EXPECT_THAT(text, HasSubstr("missing (1): only_model"));
    EXPECT_THAT(text, HasSubstr("unexpected (1): only_file"));
    EXPECT_THAT(text, HasSubstr("other_shape: file [2, 3] vs model [3, 3]"));
  }
  EXPECT_EQ(param(*model, "kept")[0].item<float>(), 0.0f);
}

TEST(LoadState, StrictMessageShowsTenNamesOfEachKindThenACount) {
  TempDir dir;
  Tensors parameters;
  for (int i = 0; i < 25; ++i)
    parameters.emplace_back("p" + std::to_string(100 + i), at::zeros({1}));
  auto model = model_of(parameters);
  const auto file = file_of(dir, {{"x", at::zeros({1})}});
  try {
    load_state(*model, file);
    FAIL() << "no error";
  } catch (const sdk::DataError& error) {
    const std::string text = error.what();
    EXPECT_THAT(text, HasSubstr("missing (25): p100, p101,"));
    EXPECT_THAT(text, HasSubstr("p109, ... and 15 more"));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("p110")));
  }
}

// LWDETR.reinitialize_detection_head: w.repeat(ceil(n / rows), 1)[:n], the same for the bias.
TEST(LoadState, ClassHeadsAreTiledAsRfdetrDoes) {
  TempDir dir;
  const at::Tensor head = at::arange(0, 6).to(at::kFloat).view({3, 2});  // rows [0 1] [2 3] [4 5]
  const at::Tensor bias = at::arange(10, 13).to(at::kFloat);
  auto model = model_of({{"class_embed.weight", at::zeros({7, 2})},
                         {"class_embed.bias", at::zeros({7})},
                         {"transformer.enc_out_class_embed.12.weight", at::zeros({2, 2})},
                         {"transformer.enc_out_class_embed.12.bias", at::zeros({2})},
                         {"bbox_embed.weight", at::zeros({7, 2})}});
  const auto file = file_of(dir, {{"class_embed.weight", head},
                                  {"class_embed.bias", bias},
                                  {"transformer.enc_out_class_embed.12.weight", head},
                                  {"transformer.enc_out_class_embed.12.bias", bias},
                                  {"bbox_embed.weight", head}});
  LoadOptions options;
  options.strict = false;
  EXPECT_THAT(load_state(*model, file, options).shape_mismatches, ::testing::SizeIs(5));

  options.resize_class_heads = true;
  const LoadReport report = load_state(*model, file, options);
  const at::Tensor tiled = floats({0.f, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1}).view({7, 2});
  EXPECT_TRUE(at::equal(param(*model, "class_embed.weight"), tiled));
  EXPECT_TRUE(at::equal(param(*model, "class_embed.bias"), floats({10.f, 11, 12, 10, 11, 12, 10})));
  EXPECT_TRUE(at::equal(param(*model, "transformer.enc_out_class_embed.12.weight"),
                        floats({0.f, 1, 2, 3}).view({2, 2})));  // fewer rows: the first ones
  EXPECT_TRUE(
      at::equal(param(*model, "transformer.enc_out_class_embed.12.bias"), floats({10.f, 11})));
  EXPECT_THAT(report.resized, UnorderedElementsAre(
                                  "class_embed.weight: file [3, 2] -> model [7, 2] (tiled)",
                                  "class_embed.bias: file [3] -> model [7] (tiled)",
                                  "transformer.enc_out_class_embed.12.weight: file [3, 2] -> model "
                                  "[2, 2] (tiled)",
                                  "transformer.enc_out_class_embed.12.bias: file [3] -> model [2] "
                                  "(tiled)"));
  // Not a class head: still a mismatch.
  EXPECT_THAT(report.shape_mismatches,
              ElementsAre("bbox_embed.weight: file [3, 2] vs model [7, 2]"));
}

TEST(LoadState, QueryTablesKeepTheirFirstRowsWhenTheFileHasMore) {
  TempDir dir;
  const at::Tensor rows = at::arange(0, 24).to(at::kFloat).view({6, 4});
  auto model = model_of(
      {{"refpoint_embed.weight", at::zeros({4, 4})}, {"query_feat.weight", at::zeros({8, 4})}});
  const auto file = file_of(dir, {{"refpoint_embed.weight", rows}, {"query_feat.weight", rows}});
  LoadOptions options;
  options.strict = false;
  options.resize_class_heads = true;
  const LoadReport report = load_state(*model, file, options);
  EXPECT_TRUE(at::equal(param(*model, "refpoint_embed.weight"), rows.narrow(0, 0, 4)));
  EXPECT_THAT(report.resized,
              ElementsAre("refpoint_embed.weight: file [6, 4] -> model [4, 4] (first rows)"));
  EXPECT_THAT(report.shape_mismatches,
              ElementsAre("query_feat.weight: file [6, 4] vs model [8, 4]"));
}

TEST(LoadState, SkipPrefixesLeaveNamesAloneOnBothSides) {
  TempDir dir;
  auto model = model_of({{"backbone.0.encoder.w", at::zeros({2})},
                         {"backbone.0.projector.a", at::zeros({5})},
                         {"backbone.0.projector.only_model", at::zeros({1})}});
  const auto file = file_of(dir, {{"backbone.0.encoder.w", at::ones({2})},
                                  {"backbone.0.projector.a", at::ones({3})},
                                  {"backbone.0.projector.only_file", at::ones({1})}});
  LoadOptions options;
  options.skip_prefixes = {"backbone.0.projector."};
  const LoadReport report = load_state(*model, file, options);  // strict, yet no error
  EXPECT_THAT(report.loaded, ElementsAre("backbone.0.encoder.w"));
  EXPECT_THAT(report.shape_mismatches, IsEmpty());
  EXPECT_THAT(report.unexpected, IsEmpty());
  EXPECT_EQ(param(*model, "backbone.0.projector.a").sum().item<float>(), 0.0f);
}

// A checkpoint read into memory (an RF-DETR .pth) loads by the same rules as a file.
TEST(LoadState, LoadsTensorsInMemoryByTheSameRules) {
  auto model = model_of({{"kept", at::zeros({2})},
                         {"only_model", at::zeros({2})},
                         {"class_embed.bias", at::zeros({5})}});
  const NamedTensors tensors = {{"kept", floats({1.f, 2})},
                                {"class_embed.bias", floats({7.f, 8})},
                                {"only_file", at::ones({1})}};
  try {
    load_state(*model, tensors, "checkpoint.pth");
    FAIL() << "no error";
  } catch (const sdk::DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("checkpoint.pth: the weights do not fit the model"));
    EXPECT_THAT(error.what(), HasSubstr("class_embed.bias: file [2] vs model [5]"));
  }
  LoadOptions options;
  options.strict = false;
  options.resize_class_heads = true;
  const LoadReport report = load_state(*model, tensors, "checkpoint.pth", options);
  EXPECT_THAT(report.loaded, UnorderedElementsAre("kept", "class_embed.bias"));
  EXPECT_THAT(report.missing, ElementsAre("only_model"));
  EXPECT_THAT(report.unexpected, ElementsAre("only_file"));
  EXPECT_TRUE(at::equal(param(*model, "kept"), floats({1.f, 2})));
  EXPECT_TRUE(at::equal(param(*model, "class_embed.bias"), floats({7.f, 8, 7, 8, 7})));
  EXPECT_TRUE(at::equal(tensors.at("class_embed.bias"), floats({7.f, 8})));  // the source is untouched
}

TEST(ClassesMetadata, NamesAndIdsRoundTripThroughAWeightsFile) {
  TempDir dir;
  auto model = model_of({{"w", at::zeros({1})}});
  const std::vector<sdk::Category> categories = {{3, "cat \"tabby\""}, {7, "chien, brun"}, {9, "\u00e9l\u00e8ve"}};
  save_state(*model, dir / "named.safetensors", classes_metadata(categories));
  const auto read = classes_from_metadata(sdk::SafetensorsFile::open(dir / "named.safetensors"));
  ASSERT_EQ(read.size(), 3u);
  for (std::size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].id, categories[i].id);
    EXPECT_EQ(read[i].name, categories[i].name);
  }
  // Names without ids: the class indices stand in. No names, or names that do not parse: none.
  save_state(*model, dir / "names.safetensors", {{"class_names", "[\"a\", \"b\"]"}});
  const auto indexed = classes_from_metadata(sdk::SafetensorsFile::open(dir / "names.safetensors"));
  ASSERT_EQ(indexed.size(), 2u);
  EXPECT_EQ(indexed[1].id, 1);
  EXPECT_EQ(indexed[1].name, "b");
  save_state(*model, dir / "none.safetensors", {{"epoch", "3"}});
  EXPECT_THAT(classes_from_metadata(sdk::SafetensorsFile::open(dir / "none.safetensors")), IsEmpty());
  save_state(*model, dir / "bad.safetensors", {{"class_names", "[\"a\", 2"}});
  EXPECT_THAT(classes_from_metadata(sdk::SafetensorsFile::open(dir / "bad.safetensors")), IsEmpty());
}

TEST(SaveState, RoundTripsParametersBuffersAndMetadata) {
  TempDir dir;
  const Tensors parameters = {{"layer.weight", at::randn({3, 4})}, {"layer.bias", at::randn({3})}};
  const Tensors buffers = {{"norm.running_mean", at::randn({4}).to(at::kDouble)}};
  auto saved = model_of(parameters, buffers);
  save_state(*saved, dir / "model.safetensors", {{"recipe", "nano"}});

  const auto file = sdk::SafetensorsFile::open(dir / "model.safetensors");
  EXPECT_THAT(file.names(), ElementsAre("layer.bias", "layer.weight", "norm.running_mean"));
  EXPECT_EQ(file.metadata().at("recipe"), "nano");
  EXPECT_EQ(file.get("norm.running_mean").scalar_type(), at::kDouble);

  auto loaded = model_of({{"layer.weight", at::zeros({3, 4})}, {"layer.bias", at::zeros({3})}},
                         {{"norm.running_mean", at::zeros({4}, at::kDouble)}});
  const LoadReport report = load_state(*loaded, file);
  EXPECT_EQ(report.loaded.size(), 3u);
  EXPECT_TRUE(at::equal(param(*loaded, "layer.weight"), parameters[0].second));
  EXPECT_TRUE(at::equal(param(*loaded, "layer.bias"), parameters[1].second));
  EXPECT_TRUE(at::equal(loaded->named_buffers()["norm.running_mean"], buffers[0].second));
}

}  // namespace
}  // namespace rtseg::framework
