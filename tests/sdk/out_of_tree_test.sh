#!/usr/bin/env bash
# Installs the SDK from the build tree, builds docs/examples/custom_backbone against it (out of
# tree), and uses the plugin from the installed rtseg through RTSEG_PLUGIN_PATH.
# Usage: out_of_tree_test.sh BUILD_DIR SOURCE_DIR FIXTURE_DIR
set -euo pipefail
build_dir=$1 source_dir=$2 fixture_dir=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$source_dir/docs/examples/custom_backbone" -B "$work/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
plugin="$work/build/plugins/librtseg_my_backbone.so"
test -f "$plugin" || { echo "FAIL: $plugin was not built"; exit 1; }

# The example in docs/writing-a-plugin.md is the file that was just built.
doc="$source_dir/docs/writing-a-plugin.md"
awk '/<!-- begin my_backbone.cpp -->/{on=1; next} /<!-- end my_backbone.cpp -->/{on=0} on' "$doc" \
  | sed '1d;$d' > "$work/from_doc.cpp"
diff -u "$source_dir/docs/examples/custom_backbone/my_backbone.cpp" "$work/from_doc.cpp" \
  || { echo "FAIL: docs/writing-a-plugin.md shows another my_backbone.cpp"; exit 1; }

rtseg="$work/prefix/bin/rtseg"
export RTSEG_PLUGIN_PATH="$work/build/plugins:$fixture_dir/test_components"
listing=$("$rtseg" plugins)
echo "$listing" | grep -q "small_cnn  (my_backbone 1.0.0" || { echo "FAIL: small_cnn not listed"; echo "$listing"; exit 1; }
echo "$listing" | grep -q "^  constant" || { echo "FAIL: installed scheduler plugins not found"; exit 1; }

cat > "$work/recipe.toml" <<TOML
[model]
resolution = 64
hidden_dim = 16
num_queries = 4
num_classes = 2
[model.backbone]
type = "small_cnn"
width = 32
[model.decoder]
type = "tiny_decoder"
TOML
output=$("$rtseg" recipe check --build "$work/recipe.toml")
echo "$output"
echo "$output" | grep -q "backbone s8: \[1, 32, 8, 8\]" || { echo "FAIL: s8 shape"; exit 1; }
echo "$output" | grep -q "backbone s16: \[1, 64, 4, 4\]" || { echo "FAIL: s16 shape"; exit 1; }
echo "PASS"
