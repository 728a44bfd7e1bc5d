// The data.yaml subset parser and its interpretation, on the variants exporters write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "data_yaml.h"
#include "rtseg/sdk/errors.h"
#include "yaml_subset.h"

namespace rtseg::plugins::yolo_seg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = YamlValue::Kind;

DataYaml interpret(const std::string& text) {
  return interpret_data_yaml(parse_yaml_subset(text, "data.yaml"), "/d/data.yaml");
}

std::string error_of(const std::string& text) {
  try {
    interpret(text);
  } catch (const sdk::DataError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(YamlSubset, RoboflowExport) {
  const DataYaml data = interpret(
      "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 2\n"
      "names: ['bolt', 'hex nut']\n\nroboflow:\n  workspace: acme\n  project: parts\n  version: 3\n"
      "  license: CC BY 4.0\n  url: https://universe.roboflow.com/acme/parts/dataset/3\n");
  EXPECT_EQ(data.base, "/d");
  ASSERT_EQ(data.splits.size(), 3u);
  EXPECT_EQ(data.splits[0].name, "train");
  EXPECT_THAT(data.splits[0].entries, ElementsAre("../train/images"));
  EXPECT_EQ(data.splits[1].name, "valid");
  EXPECT_EQ(data.splits[1].key, "val");
  EXPECT_EQ(data.splits[2].name, "test");
  EXPECT_THAT(data.names, ElementsAre("bolt", "hex nut"));
}

TEST(YamlSubset, UltralyticsStyleWithBlockMappingAndScripts) {
  const std::string text =
      "# Ultralytics dataset\n"
      "path: ../datasets/coco8-seg # dataset root dir\n"
      "train: images/train\n"
      "val: images/val\n"
      "test: # optional\n"
      "\n"
      "# Classes\n"
      "names:\n"
      "  0: person\n"
      "  1: bicycle\n"
      "  2: \"traffic light\"\n"
      "\n"
      "download: |\n"
      "  from pathlib import Path\n"
      "  x = {'a': [1, 2]}\n"
      "extra: {a: [1, 2]}\n";
  const YamlDocument document = parse_yaml_subset(text, "data.yaml");
  EXPECT_EQ(document.values.at("download").kind, Kind::kUnsupported);
  EXPECT_EQ(document.values.at("extra").kind, Kind::kUnsupported);
  EXPECT_EQ(document.values.at("test").kind, Kind::kScalar);
  EXPECT_EQ(document.values.at("names").line, 8);
  const DataYaml data = interpret_data_yaml(document, "/d/cfg/data.yaml");
  EXPECT_EQ(data.base, "/d/cfg/../datasets/coco8-seg");
  ASSERT_EQ(data.splits.size(), 2u);  // test is empty
  EXPECT_THAT(data.splits[1].entries, ElementsAre("images/val"));
  EXPECT_THAT(data.names, ElementsAre("person", "bicycle", "traffic light"));
}

TEST(YamlSubset, ListForms) {
  EXPECT_THAT(interpret("train: a\nnames:\n  - cat\n  - 'dog # not a comment'\n").names,
              ElementsAre("cat", "dog # not a comment"));
  EXPECT_THAT(interpret("train: a\nnames:\n- cat\n- dog\nnc: 2\n").names,
              ElementsAre("cat", "dog"));
  EXPECT_THAT(interpret("train: a\nnames: {1: dog, 0: 'cat'}\n").names, ElementsAre("cat", "dog"));
  EXPECT_THAT(interpret("train: a\nnames: [cat, \"d\\\"og\",\n        'it''s']\n").names,
              ElementsAre("cat", "d\"og", "it's"));
  EXPECT_THAT(interpret("---\ntrain: [a/images, b/images]\nnames: [x]\n").splits[0].entries,
              ElementsAre("a/images", "b/images"));
  EXPECT_THAT(interpret("train:\n  - a\n  - b\nvalid: c\nnames: [x]\n").splits[1].entries,
              ElementsAre("c"));
  EXPECT_THAT(interpret("train: a\nnc: 3\n").names, ElementsAre("class_0", "class_1", "class_2"));
  EXPECT_EQ(interpret("train: a\nnames: [x, -1]\n").names[1], "-1");
}

TEST(YamlSubset, StructuralErrorsGiveTheLine) {
  EXPECT_EQ(error_of("train: a\nnames:\n\t- x\n"),
            "data.yaml:3: tabs are not allowed in indentation");
  EXPECT_EQ(error_of("train: 'a\nnames: [x]\n"), "data.yaml:1: unclosed ' quote");
  EXPECT_EQ(error_of("train: a\nnames: [x, y\n"), "data.yaml:2: unclosed [");
  EXPECT_EQ(error_of("train: a\nnames: [x] y\n"), "data.yaml:2: unexpected text after ]");
  EXPECT_EQ(error_of("train: a\ntrain: b\n"),
            "data.yaml:2: key \"train\" given twice (first on line 1)");
  EXPECT_EQ(error_of("- a\n- b\n"),
            "data.yaml:1: expected `key: value`; the file must be a mapping, not a list");
  EXPECT_EQ(error_of("train a\n"), "data.yaml:1: expected `key: value`");
  EXPECT_EQ(error_of("train: a\n  names: [x]\n"),
            "data.yaml:1: train: not in the YAML subset rtseg reads (a value continued on the next "
            "lines); use scalars, and lists or mappings of scalars");
}

TEST(YamlSubset, MeaningErrors) {
  EXPECT_EQ(error_of("train: a\nnames: [[x]]\n"),
            "data.yaml:2: names: not in the YAML subset rtseg reads (nested collections); use "
            "scalars, and lists or mappings of scalars");
  EXPECT_EQ(error_of("train: a\nnames: &n [x]\n"),
            "data.yaml:2: names: not in the YAML subset rtseg reads (anchors, aliases and tags); "
            "use scalars, and lists or mappings of scalars");
  EXPECT_EQ(error_of("train: a\nnames: [x, y]\nnc: 3\n"),
            "data.yaml:3: nc is 3 but names lists 2 classes");
  EXPECT_EQ(error_of("train: a\nnames: {0: x, 2: y}\n"),
            "data.yaml:2: names: keys must be the class ids 0..1, got \"2\"");
  EXPECT_EQ(error_of("train: a\nnames: x\n"),
            "data.yaml:2: names: expected a list [a, b] or a mapping {0: a, 1: b}");
  EXPECT_EQ(error_of("train: a\n"), "data.yaml: needs names (or nc)");
  EXPECT_EQ(error_of("names: [x]\ntest:\n"),
            "data.yaml: no split: expected train, val (or valid) or test");
  EXPECT_EQ(error_of("train: a\nval: b\nvalid: c\nnames: [x]\n"),
            "data.yaml:3: give either val or valid, not both");
  EXPECT_EQ(error_of("train: {a: b}\nnames: [x]\n"),
            "data.yaml:1: train: expected a path or a list of paths");
  EXPECT_EQ(error_of("train: a\nnc: two\nnames: [x]\n"),
            "data.yaml:2: nc: expected a positive integer");
}

}  // namespace
}  // namespace rtseg::plugins::yolo_seg
