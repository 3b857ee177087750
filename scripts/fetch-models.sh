#!/usr/bin/env bash
# Fetches the network behind the local image methods (image.embedding, image.safety) into
# .models/: the MobileNetV2 that the npm package nsfwjs ships (MIT; ImageNet-trained layers,
# the last blocks retrained on five content classes), pinned by version and tarball checksum,
# unwrapped from its JavaScript bundle into the standard TensorFlow.js layers format
# (model.json + weights .bin) that sluice reads. Idempotent; the licence travels with it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.4.0
sha256=585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382
dest=.models/nsfwjs-mobilenet_v2
if [[ -f $dest/model.json && -f $dest/weights.bin && -f $dest/LICENSE ]]; then
  exit 0
fi
scripts/ensure-node.sh
work=$(mktemp -d /tmp/sluice-models-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "fetch-models: fetching nsfwjs@$version (MobileNetV2)" >&2
(cd "$work" && npm pack --silent "nsfwjs@$version" >/dev/null)
echo "$sha256  $work/nsfwjs-$version.tgz" | sha256sum --check --quiet -
tar -xzf "$work/nsfwjs-$version.tgz" -C "$work" package/LICENSE package/dist/models/mobilenet_v2
mkdir -p "$dest.tmp"
node scripts/models/unwrap-tfjs.cjs "$work/package/dist/models/mobilenet_v2" "$dest.tmp"
cp "$work/package/LICENSE" "$dest.tmp/LICENSE"
echo "nsfwjs@$version $sha256" >"$dest.tmp/SOURCE"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
