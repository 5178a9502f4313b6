#!/usr/bin/env bash
# What users of the other languages get, checked before the unit tests: the jsii assembly (built by
# `npm run build`), the README's TypeScript snippets compiled and translated by jsii-rosetta (strict),
# the Python, Java, .NET and Go sources jsii-pacmak generates from them, and the Python byte-compiled.
# Prints each step's time. Run by test/run-all.sh after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

jsii_out=$(mktemp -d)
trap 'rm -rf "$jsii_out"' EXIT
timed() {
  local name=$1 t0=$EPOCHREALTIME
  shift
  "$@"
  echo "jsii-targets: $name $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))ms"
}

# The snippets compile as an app would: the package itself and what they import, linked from node_modules.
rosetta=$jsii_out/rosetta
mkdir -p "$rosetta/node_modules/@types"
ln -s "$PWD" "$rosetta/node_modules/cdk8s-redis-ha"
for pkg in cdk8s constructs cdk8s-plus-33 @types/node; do ln -s "$PWD/node_modules/$pkg" "$rosetta/node_modules/$pkg"; done
rm -f .jsii.tabl.json
# jsii-rosetta 5.9 warns of missing packages with an empty list when none is missing: that line is dropped.
timed rosetta npx jsii-rosetta extract --strict --directory "$rosetta" .jsii \
  2> >(grep -v 'missing from supplied directory: [, ]*$' >&2)
timed pacmak npx jsii-pacmak --code-only --rosetta-tablet .jsii.tabl.json --rosetta-unknown-snippets fail \
  --outdir "$jsii_out/targets" -t python -t java -t dotnet -t go
for lang in python java dotnet go; do
  [ -n "$(ls -A "$jsii_out/targets/$lang" 2>/dev/null)" ] || { echo "jsii-pacmak wrote no $lang sources" >&2; exit 1; }
done
timed python-compile python3 -m compileall -q "$jsii_out/targets/python"
