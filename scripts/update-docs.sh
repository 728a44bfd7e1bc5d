#!/usr/bin/env bash
# Regenerates the generated part of docs/recipes.md from `rtseg recipe keys` (run after adding a
# recipe key or a plugin option; tests/cli checks that the docs are current).
set -euo pipefail
cd "$(dirname "$0")/.."
rtseg="${RTSEG_BIN:-build/bin/rtseg}"
doc=docs/recipes.md
begin='<!-- begin generated: rtseg recipe keys -->'
end='<!-- end generated: rtseg recipe keys -->'
{
  sed "/^$begin\$/q" "$doc"
  env -u RTSEG_PLUGIN_PATH "$rtseg" recipe keys
  echo "$end"
} > "$doc.new"
mv "$doc.new" "$doc"
echo "updated $doc"
