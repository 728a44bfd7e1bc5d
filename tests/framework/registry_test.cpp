#include "rtseg/framework/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct ScaleOptions {
  double scale = 1.0;
};
ScaleOptions scale_options_from(sdk::ConfigReader& reader) {
  ScaleOptions options;
  options.scale = reader.get("scale", options.scale, "constant factor");
  return options;
}

class ScaleSchedule final : public sdk::Scheduler {
 public:
  explicit ScaleSchedule(double scale) : scale_(scale) {}
  double factor(std::int64_t, const sdk::ScheduleLength&) const override { return scale_; }

 private:
  double scale_;
};

std::unique_ptr<ScaleSchedule> make_scale(ScaleOptions options, const sdk::BuildContext&) {
  return std::make_unique<ScaleSchedule>(options.scale);
}

sdk::ComponentFactory<sdk::Scheduler> scale_factory() {
  return sdk::make_factory<sdk::Scheduler>("constant factor", &scale_options_from, &make_scale);
}

PluginPtr provider(const std::string& name) {
  auto record = std::make_shared<PluginRecord>();
  record->name = name;
  record->path = "/plugins/lib" + name + ".so";
  return record;
}

template <class E>
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const E& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Registry, AddsFindsAndListsSorted) {
  Registry registry;
  registry.add("zeta", scale_factory(), provider("a"));
  registry.add("alpha", scale_factory(), provider("a"));
  EXPECT_THAT(registry.names(sdk::ComponentKind::kScheduler), ElementsAre("alpha", "zeta"));
  EXPECT_TRUE(registry.names(sdk::ComponentKind::kBackbone).empty());
  EXPECT_TRUE(registry.contains(sdk::ComponentKind::kScheduler, "zeta"));
  EXPECT_FALSE(registry.contains(sdk::ComponentKind::kBackbone, "zeta"));
  EXPECT_EQ(registry.find<sdk::Scheduler>("alpha").provider->name, "a");
  const auto listing = registry.list(sdk::ComponentKind::kScheduler);
  ASSERT_EQ(listing.size(), 2u);
  EXPECT_EQ(listing[0].summary, "constant factor");
}

TEST(Registry, UnknownNameListsWhatExistsAndTheNearest) {
  Registry registry;
  registry.add("cosine", scale_factory(), provider("s"));
  registry.add("step", scale_factory(), provider("s"));
  const std::string message =
      error_of<sdk::RegistryError>([&] { registry.find<sdk::Scheduler>("cosin"); });
  EXPECT_THAT(message, HasSubstr("no scheduler named 'cosin'"));
  EXPECT_THAT(message, HasSubstr("Did you mean 'cosine'?"));
  EXPECT_THAT(message, HasSubstr("Registered schedulers: cosine, step"));
}

TEST(Registry, DuplicateNamesBothProvidersAndAddsNothing) {
  Registry registry;
  registry.add("cosine", scale_factory(), provider("first"));
  RegistrationBatch batch;
  batch.list<sdk::Scheduler>().emplace_back("new_one", scale_factory());
  batch.list<sdk::Scheduler>().emplace_back("cosine", scale_factory());
  const std::string message =
      error_of<sdk::RegistryError>([&] { registry.add_batch(std::move(batch), provider("second")); });
  EXPECT_THAT(message, HasSubstr("scheduler 'cosine' is already provided by plugin 'first' "
                                 "(/plugins/libfirst.so)"));
  EXPECT_THAT(message, HasSubstr("plugin 'second' (/plugins/libsecond.so) provides it too"));
  EXPECT_FALSE(registry.contains(sdk::ComponentKind::kScheduler, "new_one"));
}

TEST(Registry, SameNameInDifferentKindsIsFine) {
  Registry registry;
  registry.add("shared", scale_factory(), provider("a"));
  sdk::ComponentFactory<sdk::Dataset> dataset;
  dataset.create = [](sdk::ConfigReader&, const sdk::BuildContext&) {
    return std::unique_ptr<sdk::Dataset>();
  };
  EXPECT_NO_THROW(registry.add("shared", dataset, provider("b")));
}

TEST(Registry, CreateReadsOptionsAndRejectsUnknownKeys) {
  Registry registry;
  registry.add("scale", scale_factory(), provider("a"));
  const RecipeDocument document =
      RecipeDocument::parse_text("[train.scheduler]\nscale = 0.25\n", "r.toml");
  sdk::ConfigReader reader(document.root().at_path("train.scheduler").as_table(), "train.scheduler",
                           "", document.origin_lookup());
  auto schedule = registry.create<sdk::Scheduler>("scale", reader, sdk::BuildContext{});
  EXPECT_DOUBLE_EQ(schedule->factor(0, {10, 1}), 0.25);

  const RecipeDocument typo =
      RecipeDocument::parse_text("[train.scheduler]\nsacle = 0.25\n", "r.toml");
  sdk::ConfigReader typo_reader(typo.root().at_path("train.scheduler").as_table(),
                                "train.scheduler", "", typo.origin_lookup());
  const std::string message = error_of<sdk::ConfigError>(
      [&] { registry.create<sdk::Scheduler>("scale", typo_reader, sdk::BuildContext{}); });
  EXPECT_THAT(message, HasSubstr("r.toml:2:9: train.scheduler.sacle: unknown key 'sacle'. "
                                 "Did you mean 'scale'?"));
}

TEST(Registry, FactoryReturningNothingIsAnError) {
  Registry registry;
  sdk::ComponentFactory<sdk::Scheduler> empty;
  empty.create = [](sdk::ConfigReader&, const sdk::BuildContext&) {
    return std::unique_ptr<sdk::Scheduler>();
  };
  registry.add("empty", empty, provider("p"));
  sdk::ConfigReader reader(nullptr, "train.scheduler", "", nullptr);
  EXPECT_THAT(error_of<sdk::Error>([&] { registry.create<sdk::Scheduler>("empty", reader, {}); }),
              HasSubstr("returned no object"));
}

}  // namespace
}  // namespace rtseg::framework
