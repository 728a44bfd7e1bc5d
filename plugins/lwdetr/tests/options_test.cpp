// Reading the recipe section, and the errors that name the key or the input at fault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "factory.h"
#include "options.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/errors.h"
#include "test_helpers.h"

namespace rtseg::plugins::lwdetr {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

framework::RecipeDocument parse(const std::string& text) {
  return framework::RecipeDocument::parse_text(text, "decoder.toml");
}

sdk::ConfigReader reader_over(const framework::RecipeDocument& document) {
  return sdk::ConfigReader(&document.root(), "model.decoder", "decoder 'lwdetr'",
                           document.origin_lookup());
}

std::string error_of(const std::string& text, const sdk::BuildContext* context = nullptr) {
  const auto document = parse(text);
  sdk::ConfigReader reader = reader_over(document);
  try {
    if (context) {
      lwdetr_factory().create(reader, *context);
    } else {
      lwdetr_options_from(reader);
    }
  } catch (const sdk::ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(LwDetrOptions, ReadsEveryKeyOfTheShippedVariants) {
  const auto document = parse(
      "dec_layers = 2\nsa_nheads = 8\nca_nheads = 16\ndec_n_points = 2\ndim_feedforward = 2048\n"
      "group_detr = 13\ntwo_stage = true\nbbox_reparam = true\nlite_refpoint_refine = true\n"
      "dropout = 0.1\ndecoder_norm = \"Identity\"\n");
  sdk::ConfigReader reader = reader_over(document);
  const LwDetrOptions o = lwdetr_options_from(reader);
  reader.finish();
  EXPECT_EQ(o.dec_layers, 2);
  EXPECT_EQ(o.ca_nheads, 16);
  EXPECT_DOUBLE_EQ(o.dropout, 0.1);
  EXPECT_EQ(o.decoder_norm, "Identity");
}

TEST(LwDetrOptions, DefaultsAreRfDetrs) {
  const LwDetrOptions o;
  EXPECT_EQ(o.dec_layers, 3);
  EXPECT_EQ(o.sa_nheads, 8);
  EXPECT_EQ(o.ca_nheads, 16);
  EXPECT_EQ(o.dec_n_points, 2);
  EXPECT_EQ(o.dim_feedforward, 2048);
  EXPECT_EQ(o.group_detr, 13);
  EXPECT_TRUE(o.two_stage && o.bbox_reparam && o.lite_refpoint_refine);
  EXPECT_EQ(o.decoder_norm, "LN");
  // Not RF-DETR's: recomputing whole decoder layers on GPUs (same values, less memory).
  EXPECT_EQ(o.recompute, sdk::RecomputePolicy::kOnGpu);
  EXPECT_EQ(o.recompute_scope, "layer");
  sdk::ConfigReader describing = sdk::ConfigReader::describing("model.decoder", "decoder");
  lwdetr_options_from(describing);
  EXPECT_EQ(describing.docs().size(), 13u);
}

TEST(LwDetrOptions, ErrorsNameTheKey) {
  EXPECT_THAT(error_of("dec_layers = 0\n"), HasSubstr("dec_layers"));
  EXPECT_THAT(error_of("recompute_scope = \"block\"\n"), HasSubstr("recompute_scope"));
  EXPECT_THAT(error_of("group_detr = 0\n"), HasSubstr("group_detr"));
  EXPECT_THAT(error_of("dropout = 1.5\n"), HasSubstr("dropout"));
  EXPECT_THAT(error_of("decoder_norm = \"BN\"\n"), HasSubstr("decoder_norm"));
  EXPECT_THAT(error_of("dec_n_points = 0\n"), HasSubstr("dec_n_points"));
}

TEST(LwDetrFactory, HeadCountsMustDivideTheHiddenWidth) {
  const sdk::BuildContext context = testing::tiny_context();  // hidden 64
  EXPECT_THAT(error_of("sa_nheads = 3\n", &context),
              AllOf(HasSubstr("sa_nheads"), HasSubstr("hidden_dim = 64")));
  EXPECT_THAT(error_of("ca_nheads = 5\n", &context),
              AllOf(HasSubstr("ca_nheads"), HasSubstr("hidden_dim = 64")));
  EXPECT_EQ(error_of("sa_nheads = 2\nca_nheads = 4\ndim_feedforward = 16\n", &context), "");
}

TEST(LwDetrFactory, InputLevelsMustHaveHiddenDimChannels) {
  sdk::BuildContext context = testing::tiny_context(2);
  context.inputs[1].channels = 96;
  EXPECT_THAT(error_of("sa_nheads = 2\nca_nheads = 4\n", &context),
              AllOf(HasSubstr("'p5'"), HasSubstr("96 channels"), HasSubstr("hidden_dim = 64")));
  EXPECT_THROW(make_lwdetr(testing::tiny_options(), context), sdk::ConfigError);
}

}  // namespace
}  // namespace rtseg::plugins::lwdetr
