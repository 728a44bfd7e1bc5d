#include <iostream>
#include <sstream>

#include "cli_context.h"
#include "rtseg/framework/coco_export.h"
#include "rtseg/framework/dataset_report.h"
#include "rtseg/framework/draw.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::cli {
namespace {

// Where a data command's dataset comes from: a recipe's [data], or --type/--path.
struct DataSource {
  std::string recipe;
  std::string stage;
  RecipeOptions recipe_options;
  std::string type;
  std::string path;

  void add_to(CLI::App& command) {
    command.add_option("--recipe", recipe, "Take the dataset from this recipe's [data]")->type_name("FILE");
    command.add_option("--stage", stage, "Stage of a pipeline recipe (default: the last)")->type_name("NAME");
    command.add_option("--type", type, "Dataset plugin, e.g. coco, yolo_seg (instead of --recipe)")
        ->type_name("NAME");
    command.add_option("--path", path, "The dataset folder, with --type")->type_name("PATH");
    recipe_options.add_to(command);
  }
};

std::shared_ptr<sdk::Dataset> open_dataset(CliContext& context, const DataSource& source) {
  if (source.recipe.empty() == source.type.empty()) {
    throw sdk::ConfigError("give either --recipe FILE or --type NAME (with --path PATH).");
  }
  framework::RecipeDocument document;
  sdk::BuildContext build_context;
  build_context.logger = context.runtime().logger();
  if (!source.recipe.empty()) {
    const framework::LoadedRecipe recipe = load_recipe_with_plugins(context, source.recipe_options, source.recipe);
    const auto stages = framework::expand_stages(recipe);
    const framework::Stage* stage = &stages.back();
    for (const auto& s : stages) {
      if (s.name == source.stage) stage = &s;
    }
    document = stage->document;
    build_context.recipe_dir = std::filesystem::path(source.recipe).parent_path();
  } else {
    std::string text = "[data]\ntype = \"" + source.type + "\"\n";
    if (!source.path.empty()) text += "path = '" + source.path + "'\n";
    document = framework::RecipeDocument::parse_text(text, "command line");
    build_context.recipe_dir = ".";
  }
  const toml::node* type = document.root().at_path("data.type").node();
  if (!type || !type->is_string()) {
    throw sdk::ConfigError(source.recipe + ": the recipe has no [data] section with a `type`.");
  }
  const framework::ComponentRef ref{sdk::ComponentKind::kDataset, type->as_string()->get(), "data"};
  return framework::build_component<sdk::Dataset>(context.runtime().registry(), document, ref, build_context);
}

void add_check(CLI::App& data, CliContext& context) {
  auto source = std::make_shared<DataSource>();
  auto decode = std::make_shared<bool>(false);
  auto threads = std::make_shared<std::int64_t>(2);
  CLI::App* command = data.add_subcommand(
      "check", "Count images, annotations and classes; list problems (exit code 1 when there are any)");
  source->add_to(*command);
  command->add_flag("--decode", *decode, "Also decode every image (finds corrupt files and size mismatches)");
  command->add_option("--threads", *threads, "Threads for --decode")->capture_default_str();
  command->callback([&context, source, decode, threads] {
    const auto dataset = open_dataset(context, *source);
    const framework::DatasetReport report = framework::check_dataset(*dataset, *decode, *threads);
    framework::print_report(std::cout, report);
    std::cout << "\n" << report.problem_count() << " problem(s) found\n";
    // Scripts can tell a clean dataset from one with problems (1, as for any failure found).
    if (report.problem_count() > 0) throw ExitWith{1};
  });
}

void add_show(CLI::App& data, CliContext& context) {
  auto source = std::make_shared<DataSource>();
  auto out = std::make_shared<std::string>();
  auto split = std::make_shared<std::string>("train");
  auto count = std::make_shared<std::int64_t>(16);
  CLI::App* command = data.add_subcommand("show", "Draw samples with their masks and boxes into PNG files");
  source->add_to(*command);
  command->add_option("--out", *out, "Folder for the pictures")->required()->type_name("DIR");
  command->add_option("--split", *split, "Split to draw from")->capture_default_str();
  command->add_option("--count", *count, "How many images")->capture_default_str();
  command->callback([&context, source, out, split, count] {
    const auto dataset = open_dataset(context, *source);
    std::filesystem::create_directories(*out);
    const std::int64_t n = std::min(*count, dataset->size(*split));
    for (std::int64_t i = 0; i < n; ++i) {
      sdk::Sample sample;
      try {
        sample = dataset->load(*split, i);
      } catch (const sdk::DataError& error) {
        std::cerr << "skipped: " << error.what() << "\n";
        continue;
      }
      torch::Tensor picture = sample.image.clone();
      for (const auto& a : sample.annotations) {
        const auto color = framework::class_color(a.label);
        const auto& s = a.segmentation;
        if (!s.empty()) {
          const sdk::RunLengths rle =
              s.polygons.empty() ? s.rle
                                 : sdk::masks::from_polygons(s.polygons, sample.record.height, sample.record.width);
          if (rle.height == sample.record.height && rle.width == sample.record.width) {
            framework::draw_mask(picture, sdk::masks::decode(rle).to(torch::kBool), color);
          }
        }
        const auto& b = a.box_xywh;
        framework::draw_box(picture, b[0], b[1], b[0] + b[2], b[1] + b[3], color);
      }
      const auto file = std::filesystem::path(*out) / (*split + "_" + std::to_string(sample.record.id) + ".png");
      sdk::write_image(file, picture);
    }
    std::cout << "wrote " << n << " pictures to " << *out << "\n";
  });
}

void add_synth(CLI::App& data, CliContext& context) {
  auto out = std::make_shared<std::string>();
  auto images = std::make_shared<std::int64_t>(200);
  auto valid = std::make_shared<std::int64_t>(-1);
  auto seed = std::make_shared<std::int64_t>(0);
  auto format = std::make_shared<std::string>("jpg");
  auto shapes = std::make_shared<std::vector<std::string>>();
  CLI::App* command = data.add_subcommand(
      "synth", "Write the synthetic_shapes dataset as a COCO dataset on disk (Roboflow layout)");
  command->add_option("--out", *out, "Dataset folder to write")->required()->type_name("DIR");
  command->add_option("--images", *images, "Training images")->capture_default_str();
  command->add_option("--valid", *valid, "Validation images (default: a quarter of --images)");
  command->add_option("--seed", *seed, "Random seed")->capture_default_str();
  command->add_option("--format", *format, "Image format: jpg or png")->capture_default_str();
  command->add_option("--shapes", *shapes,
                      "The shapes drawn, which are the classes in this order (default: ellipse, rectangle, "
                      "triangle, star, ring)")
      ->delimiter(',')
      ->type_name("NAME,...");
  command->callback([&context, out, images, valid, seed, format, shapes] {
    const std::int64_t valid_images = *valid >= 0 ? *valid : std::max<std::int64_t>(1, *images / 4);
    std::string text = "[data]\ntype = \"synthetic_shapes\"\ntrain_images = " + std::to_string(*images) +
                       "\nvalid_images = " + std::to_string(valid_images) + "\nseed = " + std::to_string(*seed) + "\n";
    if (!shapes->empty()) {
      toml::array list;
      for (const auto& shape : *shapes) list.push_back(shape);
      std::ostringstream printed;
      printed << list;
      text += "shapes = " + printed.str() + "\n";
    }
    const auto document = framework::RecipeDocument::parse_text(text, "rtseg data synth");
    sdk::BuildContext build_context;
    build_context.logger = context.runtime().logger();
    const auto dataset = framework::build_component<sdk::Dataset>(
        context.runtime().registry(), document,
        framework::ComponentRef{sdk::ComponentKind::kDataset, "synthetic_shapes", "data"}, build_context);
    const std::int64_t written = framework::export_coco(*dataset, *out, *format);
    std::cout << "wrote " << written << " images to " << *out
              << " (train/, valid/: _annotations.coco.json beside the images)\n";
  });
}

}  // namespace

void add_data_command(CLI::App& app, CliContext& context) {
  CLI::App* data = app.add_subcommand("data", "Check, draw and generate datasets");
  data->require_subcommand(1);
  add_check(*data, context);
  add_show(*data, context);
  add_synth(*data, context);
}

}  // namespace rtseg::cli
