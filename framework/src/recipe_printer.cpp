#include "rtseg/framework/recipe_printer.h"

#include <sstream>

namespace rtseg::framework {
namespace {

constexpr std::size_t kCommentColumn = 44;

std::string format_key(std::string_view key) {
  const bool bare = !key.empty() && key.find_first_not_of(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == std::string_view::npos;
  if (bare) return std::string(key);
  std::ostringstream quoted;
  quoted << toml::value<std::string>(std::string(key));
  return quoted.str();
}

std::string format_value(const toml::node& node) {
  std::ostringstream out;
  node.visit([&out](const auto& value) { out << toml::toml_formatter(value, toml::format_flags::none); });
  return out.str();
}

bool is_table_array(const toml::node& node) {
  const toml::array* array = node.as_array();
  return array && !array->empty() && array->is_array_of_tables();
}

class Printer {
 public:
  Printer(std::ostream& out, const RecipeDocument& document) : out_(out), document_(document) {}

  void table(const toml::table& table, const std::string& path, const std::string& header) {
    // Values first, then sub-tables (TOML requires that order).
    for (const auto& [key, node] : table) {
      if (node.is_table() || is_table_array(node)) continue;
      line(format_key(key.str()) + " = " + format_value(node), join_path(path, key.str()));
    }
    for (const auto& [key, node] : table) {
      const std::string child_path = join_path(path, key.str());
      const std::string child_header =
          header.empty() ? format_key(key.str()) : header + "." + format_key(key.str());
      if (const toml::table* child = node.as_table()) {
        out_ << "\n";
        line("[" + child_header + "]", child_path);
        this->table(*child, child_path, child_header);
      } else if (is_table_array(node)) {
        const toml::array& array = *node.as_array();
        for (std::size_t i = 0; i < array.size(); ++i) {
          const std::string element_path = index_path(child_path, i);
          out_ << "\n";
          line("[[" + child_header + "]]", element_path);
          this->table(*array[i].as_table(), element_path, child_header);
        }
      }
    }
  }

 private:
  void line(const std::string& text, const std::string& path) {
    const sdk::Origin origin = document_.origin(path);
    out_ << text;
    if (!origin.file.empty() || !origin.note.empty()) {
      out_ << std::string(text.size() < kCommentColumn ? kCommentColumn - text.size() : 1, ' ')
           << "# " << origin.to_string();
    }
    out_ << "\n";
  }

  std::ostream& out_;
  const RecipeDocument& document_;
};

}  // namespace

void print_recipe(std::ostream& out, const RecipeDocument& document) {
  out << "# resolved recipe; merged from (base first):";
  for (const auto& file : document.files) out << " " << file;
  out << "\n";
  Printer(out, document).table(document.root(), "", "");
}

}  // namespace rtseg::framework
