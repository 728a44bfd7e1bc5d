#include "rtseg/framework/rfdetr/checkpoint.h"

#include "rtseg/sdk/errors.h"

namespace rtseg::framework::rfdetr {
namespace {

using pytorch::Graph;
using pytorch::Kind;
using pytorch::Ref;
using pytorch::Value;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw sdk::DataError(path.string() + ": " + what);
}

// A key as Python writes it, for messages; a key too deep to write (a hostile file's) is not
// the error to report.
std::string key_text(const Graph& graph, Ref key) {
  try {
    return pytorch::repr(graph, key);
  } catch (const sdk::DataError&) {
    return "(a " + std::string(pytorch::kind_name(graph[key].kind)) + " too deep to print)";
  }
}

// The top-level keys, for messages ("it has: 'model', 'args'").
std::string keys_of(const Graph& graph, const Value& dict) {
  std::string keys;
  for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    keys += (keys.empty() ? "" : ", ") + key_text(graph, dict.items[i]);
  }
  return keys.empty() ? "nothing" : keys;
}

bool all_tensors(const Graph& graph, const Value& dict) {
  if (dict.kind != Kind::Dict || dict.items.empty()) return false;
  for (std::size_t i = 1; i < dict.items.size(); i += 2) {
    if (graph[dict.items[i]].kind != Kind::Tensor) return false;
  }
  return true;
}

NamedTensors state_dict(const Graph& graph, const Value& dict, const std::string& entry,
                        const std::filesystem::path& path) {
  if (dict.kind != Kind::Dict) {
    fail(path, "'" + entry + "' is not a state dict of tensors (" + pytorch::kind_name(dict.kind) + ").");
  }
  NamedTensors tensors;
  for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const Value& name = graph[dict.items[i]];
    const Value& tensor = graph[dict.items[i + 1]];
    if (name.kind != Kind::String || tensor.kind != Kind::Tensor) {
      fail(path, "'" + entry + "' entry " + key_text(graph, dict.items[i]) + " is not a named tensor (" +
                     pytorch::kind_name(tensor.kind) + ").");
    }
    tensors.emplace(name.text, tensor.tensor);
  }
  return tensors;
}

nlohmann::json args_of(const Graph& graph, Ref ref, const std::filesystem::path& path) {
  // argparse.Namespace: its attributes, i.e. vars(args); a plain dict of them is accepted too.
  const Value& args = graph[ref];
  const bool names = args.kind == Kind::Object;
  if (!names && args.kind != Kind::Dict) {
    fail(path, std::string("'args' is not RF-DETR's argument namespace (") + pytorch::kind_name(args.kind) + ").");
  }
  if (names && args.state == pytorch::kNoRef) return nlohmann::json::object();
  try {
    return pytorch::to_json(graph, names ? args.state : ref);
  } catch (const sdk::DataError& error) {
    fail(path, std::string("'args': ") + error.what());
  }
}

}  // namespace

Checkpoint checkpoint_from(const pytorch::TorchFile& file, const std::filesystem::path& path) {
  const Graph& graph = file.graph;
  const Value& root = graph[graph.root()];
  Checkpoint checkpoint;
  checkpoint.path = path;
  if (root.kind != Kind::Dict) {
    fail(path, std::string("holds no checkpoint dict with a 'model' entry (") + pytorch::kind_name(root.kind) + ").");
  }
  const Value* model = graph.find(root, "model");
  if (!model && all_tensors(graph, root)) model = &root;  // a bare state dict
  if (!model) fail(path, "has no 'model' entry (it has: " + keys_of(graph, root) + ").");
  checkpoint.model = state_dict(graph, *model, "model", path);
  if (const Value* ema = graph.find(root, "ema_model")) {
    checkpoint.ema_model = state_dict(graph, *ema, "ema_model", path);
  }
  if (const Ref args = graph.lookup(root, "args"); args != pytorch::kNoRef && graph[args].kind != Kind::None) {
    checkpoint.args = args_of(graph, args, path);
  }
  if (const Value* epoch = graph.find(root, "epoch"); epoch && epoch->kind == Kind::Int) {
    checkpoint.epoch = epoch->integer;
  }
  return checkpoint;
}

Checkpoint read_checkpoint(const std::filesystem::path& file) {
  return checkpoint_from(pytorch::read_torch_file(file), file);
}

}  // namespace rtseg::framework::rfdetr
