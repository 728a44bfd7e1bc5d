#include "rtseg/framework/plugin_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rtseg/framework/logging.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/sdk/abi.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/backbone.h"
#include "test_support.h"

namespace rtseg::framework {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::filesystem::path kFixtures = RTSEG_FIXTURE_DIR;

std::filesystem::path fixture(const std::string& name) {
  return kFixtures / name / ("librtseg_" + name + ".so");
}

struct HostFixture : ::testing::Test {
  Registry registry;
  PluginHost host{registry, make_logger("test", "off")};

  std::string only_failure() {
    EXPECT_EQ(host.failures().size(), 1u);
    return host.failures().empty() ? "" : host.failures().front().reason;
  }
};

TEST_F(HostFixture, LoadsAPluginAndItsComponents) {
  PluginPtr plugin = host.load_file(fixture("test_components"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name, "test_components");
  EXPECT_EQ(plugin->version, "0.1.0");
  EXPECT_EQ(plugin->path, fixture("test_components"));
  EXPECT_THAT(host.failures(), IsEmpty());
  EXPECT_TRUE(registry.contains(sdk::ComponentKind::kBackbone, "tiny_cnn"));
  EXPECT_TRUE(registry.contains(sdk::ComponentKind::kDecoder, "tiny_decoder"));
  EXPECT_TRUE(registry.contains(sdk::ComponentKind::kSegHead, "tiny_mask"));
  EXPECT_EQ(registry.find<sdk::Backbone>("tiny_cnn").provider, plugin);
}

TEST_F(HostFixture, RefusesAnotherAbiWithBothVersions) {
  EXPECT_EQ(host.load_file(fixture("bad_abi")), nullptr);
  const std::string reason = only_failure();
  EXPECT_THAT(reason, HasSubstr("built against rtseg SDK ABI 999.0"));
  EXPECT_THAT(reason, HasSubstr("this host provides ABI " + std::to_string(sdk::kAbiMajor) + "." +
                                std::to_string(sdk::kAbiMinor)));
  EXPECT_THAT(reason, HasSubstr("Rebuild the plugin"));
}

TEST_F(HostFixture, RefusesAnotherFingerprintWithBothValues) {
  EXPECT_EQ(host.load_file(fixture("bad_fingerprint")), nullptr);
  const std::string reason = only_failure();
  EXPECT_THAT(reason, HasSubstr("plugin 'gcc-1 libstdc++-cxx11abi-0 libtorch-0.1 cuda-off'"));
  EXPECT_THAT(reason, HasSubstr(std::string("host '") + sdk::host_build_fingerprint() + "'"));
}

TEST_F(HostFixture, RefusesAMissingEntrySymbol) {
  EXPECT_EQ(host.load_file(fixture("missing_entry")), nullptr);
  EXPECT_THAT(only_failure(), HasSubstr("missing entry symbol 'rtseg_plugin_register'"));
}

TEST_F(HostFixture, RefusesALibraryThatIsNotAPlugin) {
  EXPECT_EQ(host.load_file(kFixtures / "not_a_plugin" / "libnot_a_plugin.so"), nullptr);
  EXPECT_THAT(only_failure(), HasSubstr("not an rtseg plugin"));
}

TEST_F(HostFixture, ReportsAFileThatCannotBeLoaded) {
  rtseg::testing::TempDir dir;
  const auto junk = dir.write("libjunk.so", "this is not an ELF file");
  EXPECT_EQ(host.load_file(junk), nullptr);
  EXPECT_THAT(only_failure(), HasSubstr("cannot load the library"));
}

TEST_F(HostFixture, DuplicateNameRefusesTheWholeSecondPlugin) {
  ASSERT_NE(host.load_file(fixture("test_components")), nullptr);
  EXPECT_EQ(host.load_file(fixture("duplicate_name")), nullptr);
  const std::string reason = only_failure();
  EXPECT_THAT(reason, HasSubstr("backbone 'tiny_cnn' is already provided by plugin 'test_components' (" +
                                fixture("test_components").string() + ")"));
  EXPECT_THAT(reason, HasSubstr("plugin 'duplicate_name' (" + fixture("duplicate_name").string() +
                                ") provides it too"));
  EXPECT_FALSE(registry.contains(sdk::ComponentKind::kScheduler, "dup_only"));
  EXPECT_EQ(host.plugins().size(), 1u);
}

TEST_F(HostFixture, RegisterFunctionThatThrowsIsRolledBack) {
  EXPECT_EQ(host.load_file(fixture("throwing_register")), nullptr);
  const std::string reason = only_failure();
  EXPECT_THAT(reason, HasSubstr("its register function failed"));
  EXPECT_THAT(reason, HasSubstr("fixture failure: the GPU driver is too old"));
  EXPECT_FALSE(registry.contains(sdk::ComponentKind::kScheduler, "half_registered"));
}

TEST_F(HostFixture, KeepsGoingPastBadLibrariesInAFolder) {
  rtseg::testing::TempDir dir;
  for (const char* name : {"bad_abi", "test_components", "throwing_register"}) {
    std::filesystem::copy_file(fixture(name), dir / fixture(name).filename().string());
  }
  dir.write("README.txt", "not a library, not even tried");
  host.load_path(dir.path());
  EXPECT_EQ(host.plugins().size(), 1u);
  EXPECT_EQ(host.failures().size(), 2u);
  EXPECT_TRUE(registry.contains(sdk::ComponentKind::kBackbone, "tiny_cnn"));
}

TEST_F(HostFixture, TheSameLibraryIsLoadedOnce) {
  ASSERT_NE(host.load_file(fixture("test_components")), nullptr);
  EXPECT_EQ(host.load_file(fixture("test_components")), nullptr);
  EXPECT_THAT(host.failures(), IsEmpty());
  EXPECT_EQ(host.plugins().size(), 1u);
}

TEST_F(HostFixture, MissingFolderLoadsNothing) {
  host.load_path(kFixtures / "no_such_folder");
  EXPECT_THAT(host.plugins(), IsEmpty());
  EXPECT_THAT(host.failures(), IsEmpty());
}

// An object made by a plugin outlives the registry and the host: its library stays loaded until
// the object goes, then unloads after it.
TEST(PluginLifetime, ObjectKeepsItsLibraryLoaded) {
  std::shared_ptr<sdk::Backbone> backbone;
  {
    RuntimeOptions options;
    options.load_default_plugins = false;
    options.plugin_paths = {fixture("test_components")};
    options.logger = make_logger("test", "off");
    Runtime runtime(options);
    sdk::ConfigReader reader(nullptr, "model.backbone", "", nullptr);
    backbone = runtime.registry().create<sdk::Backbone>("tiny_cnn", reader, sdk::BuildContext{});
  }
  const auto features = backbone->forward(torch::ones({2, 3, 16, 16}));
  ASSERT_EQ(features.size(), 1u);
  EXPECT_EQ(features[0].sizes(), (std::vector<std::int64_t>{2, 8, 4, 4}));
  EXPECT_EQ(backbone->output_spec().at(0).stride, 4);
  // shared_from_this works on a plugin-made module (the host set up the control block).
  EXPECT_NO_THROW(backbone->shared_from_this());
  backbone.reset();  // destructor in the plugin, then the library unloads
}

}  // namespace
}  // namespace rtseg::framework
