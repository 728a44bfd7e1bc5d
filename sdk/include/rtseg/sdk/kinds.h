#pragma once

#include <array>
#include <string_view>

namespace rtseg::sdk {

class Backbone;
class Decoder;
class SegHead;
class Dataset;
class Scheduler;

/// The kinds of component a plugin can provide. New kinds are appended (minor ABI bump).
enum class ComponentKind { kBackbone, kDecoder, kSegHead, kDataset, kScheduler };

inline constexpr std::array<ComponentKind, 5> kAllKinds = {
    ComponentKind::kBackbone, ComponentKind::kDecoder, ComponentKind::kSegHead,
    ComponentKind::kDataset, ComponentKind::kScheduler};

/// The kind's name as recipes and messages spell it: "backbone", "seg_head", ...
constexpr std::string_view kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::kBackbone: return "backbone";
    case ComponentKind::kDecoder: return "decoder";
    case ComponentKind::kSegHead: return "seg_head";
    case ComponentKind::kDataset: return "dataset";
    case ComponentKind::kScheduler: return "scheduler";
  }
  return "unknown";
}

template <class T>
struct KindOf;
template <> struct KindOf<Backbone> { static constexpr ComponentKind value = ComponentKind::kBackbone; };
template <> struct KindOf<Decoder> { static constexpr ComponentKind value = ComponentKind::kDecoder; };
template <> struct KindOf<SegHead> { static constexpr ComponentKind value = ComponentKind::kSegHead; };
template <> struct KindOf<Dataset> { static constexpr ComponentKind value = ComponentKind::kDataset; };
template <> struct KindOf<Scheduler> { static constexpr ComponentKind value = ComponentKind::kScheduler; };

}  // namespace rtseg::sdk
