#include "coco_assemble.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "annotation_checks.h"
#include "json_values.h"

namespace rtseg::plugins::coco {
namespace {

// Sorts by id (stable, so messages name the first of two equal ids) and refuses repeated ids.
template <class Raw, class IdOf>
void sort_unique(std::vector<Raw>& items, IdOf id_of, const std::string& file_name,
                 std::string_view array) {
  std::stable_sort(items.begin(), items.end(),
                   [&](const Raw& a, const Raw& b) { return id_of(a) < id_of(b); });
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (id_of(items[i]) == id_of(items[i - 1])) {
      fail_at(JsonPlace{file_name, array, items[i].index, ""},
              "id " + std::to_string(id_of(items[i])) + " appears again (" + std::string(array) +
                  "[" + std::to_string(items[i - 1].index) + "] has it)");
    }
  }
}

// Index of `id` in a vector sorted by id, or nullopt.
template <class Item, class IdOf>
std::optional<std::size_t> find_id(const std::vector<Item>& items, std::int64_t id, IdOf id_of) {
  const auto found =
      std::lower_bound(items.begin(), items.end(), id,
                       [&](const Item& item, std::int64_t value) { return id_of(item) < value; });
  if (found == items.end() || id_of(*found) != id) return std::nullopt;
  return static_cast<std::size_t>(found - items.begin());
}

std::string id_list(const std::vector<CocoCategory>& categories) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(categories.size(), 20);
  for (std::size_t i = 0; i < shown; ++i)
    text += (i ? ", " : "") + std::to_string(categories[i].id);
  if (shown < categories.size()) text += ", ... (" + std::to_string(categories.size()) + " in all)";
  return categories.empty() ? "none" : text;
}

}  // namespace

CocoFile assemble_coco_file(const std::string& file_name, std::vector<RawImage> images,
                            std::vector<RawCategory> categories,
                            std::deque<RawAnnotation> annotations) {
  sort_unique(
      images, [](const RawImage& image) { return image.record.id; }, file_name, "images");
  sort_unique(
      categories, [](const RawCategory& category) { return category.category.id; }, file_name,
      "categories");

  CocoFile file;
  file.categories.reserve(categories.size());
  for (RawCategory& category : categories) file.categories.push_back(std::move(category.category));
  file.images.reserve(images.size());
  for (RawImage& image : images) file.images.push_back(CocoImage{std::move(image.record), {}});

  const auto category_id = [](const CocoCategory& category) { return category.id; };
  const auto image_id = [](const CocoImage& image) { return image.record.id; };
  std::unordered_map<std::int64_t, std::int64_t> first_with_id;  // annotation id -> array index
  first_with_id.reserve(annotations.size());

  while (!annotations.empty()) {
    RawAnnotation raw = std::move(annotations.front());
    annotations.pop_front();  // frees the raw record as its annotation moves to its image
    const JsonPlace place{file_name, "annotations", raw.index, ""};
    const auto label = find_id(file.categories, raw.category_id, category_id);
    if (!label) {
      fail_at(place, "category_id " + std::to_string(raw.category_id) +
                         " is not in categories (ids: " + id_list(file.categories) + ")");
    }
    ++file.categories[*label].references;

    const std::string who = place.describe() + " (id " + std::to_string(raw.annotation.id) + "): ";
    auto skip = [&](const std::string& reason) {
      file.problems.push_back({file_name, who + reason});
    };

    const auto image = find_id(file.images, raw.image_id, image_id);
    if (!image) {
      skip("image_id " + std::to_string(raw.image_id) + " is not in images; skipped");
      continue;
    }
    const auto [first, inserted] = first_with_id.emplace(raw.annotation.id, raw.index);
    if (!inserted) {
      skip("the id appears again (annotations[" + std::to_string(first->second) +
           "] has it); skipped");
      continue;
    }
    CocoImage& target = file.images[*image];
    std::string reason;
    if (!check_annotation(raw, target.record, reason)) {
      skip(reason);
      continue;
    }
    if (!reason.empty()) skip(reason);  // kept, but part of it was dropped
    raw.annotation.label = static_cast<std::int64_t>(*label);
    target.annotations.push_back(std::move(raw.annotation));
    ++file.annotation_count;
  }
  return file;
}

}  // namespace rtseg::plugins::coco
