#include "rtseg/framework/weights.h"

#include <c10/core/GradMode.h>

#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

constexpr std::size_t kNamesShown = 10;

std::string shape_text(at::IntArrayRef sizes) {
  std::string text = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool skipped(std::string_view name, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes) {
    if (starts_with(name, prefix)) return true;
  }
  return false;
}

// RF-DETR's class heads: class_embed.{weight,bias} and transformer.enc_out_class_embed.N.{...}.
bool is_class_head(std::string_view name) {
  if (name == "class_embed.weight" || name == "class_embed.bias") return true;
  constexpr std::string_view kEncoderHeads = "transformer.enc_out_class_embed.";
  if (!starts_with(name, kEncoderHeads)) return false;
  std::string_view rest = name.substr(kEncoderHeads.size());
  std::size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  rest = rest.substr(digits);
  return digits > 0 && (rest == ".weight" || rest == ".bias");
}

// RF-DETR keeps num_queries x group_detr rows of these when a checkpoint has more.
bool is_query_table(std::string_view name) {
  return ends_with(name, "refpoint_embed.weight") || ends_with(name, "query_feat.weight");
}

bool same_row_shape(const at::Tensor& a, const at::Tensor& b) {
  return a.dim() >= 1 && a.dim() == b.dim() && a.sizes().slice(1) == b.sizes().slice(1);
}

// Rows repeated ceil(rows / have) times, then the first `rows` kept (LWDETR's head re-init).
at::Tensor tile_rows(const at::Tensor& source, std::int64_t rows) {
  const std::int64_t repeats = (rows + source.size(0) - 1) / source.size(0);
  std::vector<std::int64_t> factors(static_cast<std::size_t>(source.dim()), 1);
  factors[0] = repeats;
  return source.repeat(factors).narrow(0, 0, rows);
}

// The checkpoint tensor fitted to `target` by RF-DETR's fine-tuning rules, with how it was done.
std::optional<std::pair<at::Tensor, std::string>> fitted(const std::string& name,
                                                         const at::Tensor& source,
                                                         const at::Tensor& target) {
  if (!same_row_shape(source, target) || source.size(0) == 0) return std::nullopt;
  if (is_class_head(name)) return std::make_pair(tile_rows(source, target.size(0)), "tiled");
  if (is_query_table(name) && source.size(0) > target.size(0)) {
    return std::make_pair(source.narrow(0, 0, target.size(0)), "first rows");
  }
  return std::nullopt;
}

std::string first_names(const std::vector<std::string>& names, const char* separator) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i) {
    text += (i ? separator : "") + names[i];
  }
  if (names.size() > kNamesShown) {
    text +=
        std::string(separator) + "... and " + std::to_string(names.size() - kNamesShown) + " more";
  }
  return text;
}

std::string strict_failure(const std::filesystem::path& file, const LoadReport& report) {
  std::string text = file.string() + ": the weights do not fit the model (" +
                     std::to_string(report.missing.size()) + " missing, " +
                     std::to_string(report.unexpected.size()) + " unexpected, " +
                     std::to_string(report.shape_mismatches.size()) + " with another shape).";
  if (!report.missing.empty()) {
    text += "\n  missing (" + std::to_string(report.missing.size()) +
            "): " + first_names(report.missing, ", ");
  }
  if (!report.unexpected.empty()) {
    text += "\n  unexpected (" + std::to_string(report.unexpected.size()) +
            "): " + first_names(report.unexpected, ", ");
  }
  if (!report.shape_mismatches.empty()) {
    text += "\n  another shape (" + std::to_string(report.shape_mismatches.size()) + "):\n    " +
            first_names(report.shape_mismatches, "\n    ");
  }
  return text;
}

struct Copy {
  std::string name;
  at::Tensor target;
  at::Tensor source;
};

// Where the tensors come from: a memory-mapped file or a map, read by name without copies.
struct Source {
  const std::filesystem::path& path;
  std::vector<std::string> names;
  std::function<at::Tensor(const std::string&)> find;  // undefined when absent
};

LoadReport load_from(torch::nn::Module& model, const Source& source, const LoadOptions& options) {
  LoadReport report;
  std::vector<Copy> copies;
  std::set<std::string> model_names;
  auto consider = [&](const std::string& name, const at::Tensor& target) {
    if (!target.defined() || skipped(name, options.skip_prefixes)) return;
    model_names.insert(name);
    at::Tensor tensor = source.find(name);
    if (!tensor.defined()) {
      report.missing.push_back(name);
      return;
    }
    if (tensor.sizes() == target.sizes()) {
      copies.push_back({name, target, std::move(tensor)});
      return;
    }
    if (options.resize_class_heads) {
      if (auto fit = fitted(name, tensor, target)) {
        report.resized.push_back(name + ": file " + shape_text(tensor.sizes()) + " -> model " +
                                 shape_text(target.sizes()) + " (" + fit->second + ")");
        copies.push_back({name, target, std::move(fit->first)});
        return;
      }
    }
    report.shape_mismatches.push_back(name + ": file " + shape_text(tensor.sizes()) + " vs model " +
                                      shape_text(target.sizes()));
  };
  for (const auto& item : model.named_parameters()) consider(item.key(), item.value());
  for (const auto& item : model.named_buffers()) consider(item.key(), item.value());
  for (const auto& name : source.names) {
    if (!skipped(name, options.skip_prefixes) && !model_names.count(name)) {
      report.unexpected.push_back(name);
    }
  }
  if (options.strict &&
      (!report.missing.empty() || !report.unexpected.empty() || !report.shape_mismatches.empty())) {
    throw sdk::DataError(strict_failure(source.path, report));
  }

  c10::NoGradGuard no_grad;
  for (const Copy& copy : copies) {
    copy.target.copy_(copy.source);  // converts to the target's device and dtype
    report.loaded.push_back(copy.name);
  }
  return report;
}

}  // namespace

LoadReport load_state(torch::nn::Module& model, const sdk::SafetensorsFile& file,
                      const LoadOptions& options) {
  const Source source{file.path(), file.names(), [&file](const std::string& name) {
                        return file.contains(name) ? file.get(name) : at::Tensor();
                      }};
  return load_from(model, source, options);
}

LoadReport load_state(torch::nn::Module& model, const NamedTensors& tensors,
                      const std::filesystem::path& origin, const LoadOptions& options) {
  std::vector<std::string> names;
  for (const auto& item : tensors) names.push_back(item.first);
  const Source source{origin, std::move(names), [&tensors](const std::string& name) {
                        const auto found = tensors.find(name);
                        return found == tensors.end() ? at::Tensor() : found->second;
                      }};
  return load_from(model, source, options);
}

std::map<std::string, std::string> classes_metadata(const std::vector<sdk::Category>& categories) {
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json ids = nlohmann::json::array();
  for (const sdk::Category& category : categories) {
    names.push_back(category.name);
    ids.push_back(category.id);
  }
  return {{"class_names", names.dump()}, {"category_ids", ids.dump()}};
}

std::vector<sdk::Category> classes_from_metadata(const sdk::SafetensorsFile& file) {
  auto parsed = [&file](const char* key) {
    const auto found = file.metadata().find(key);
    return found == file.metadata().end() ? nlohmann::json()
                                          : nlohmann::json::parse(found->second, nullptr, /*allow_exceptions=*/false);
  };
  const nlohmann::json names = parsed("class_names");
  const nlohmann::json ids = parsed("category_ids");
  if (!names.is_array()) return {};
  const bool with_ids = ids.is_array() && ids.size() == names.size();
  std::vector<sdk::Category> categories;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!names[i].is_string() || (with_ids && !ids[i].is_number_integer())) return {};
    categories.push_back({with_ids ? ids[i].get<std::int64_t>() : static_cast<std::int64_t>(i),
                          names[i].get<std::string>()});
  }
  return categories;
}

void save_state(const torch::nn::Module& model, const std::filesystem::path& file,
                const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) {
    if (item.value().defined()) tensors.emplace_back(item.key(), item.value().detach());
  }
  for (const auto& item : model.named_buffers()) {
    if (item.value().defined()) tensors.emplace_back(item.key(), item.value().detach());
  }
  sdk::save_safetensors(file, tensors, metadata);
}

}  // namespace rtseg::framework
