// Turns a TensorFlow.js layers model bundled as JavaScript (model.min.js exporting
// {modelTopology, weightsManifest}; group1-shard*.min.js each exporting its bytes as base64)
// into the format tf.loadLayersModel reads from disk: model.json and one weights.bin holding
// the shards in manifest order. Usage: node unwrap-tfjs.cjs BUNDLE_DIR OUT_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const [bundle, out] = process.argv.slice(2);
if (!bundle || !out) {
  console.error("usage: node unwrap-tfjs.cjs BUNDLE_DIR OUT_DIR");
  process.exit(2);
}
const model = require(path.resolve(bundle, "model.min.js"));
if (!model.modelTopology || !Array.isArray(model.weightsManifest)) {
  throw new Error(`${bundle}/model.min.js exports no TensorFlow.js layers model`);
}
const shards = [];
const weights = [];
for (const group of model.weightsManifest) {
  for (const shard of group.paths) {
    const base64 = require(path.resolve(bundle, `${shard}.min.js`));
    if (typeof base64 !== "string") throw new Error(`${shard}.min.js exports no base64 text`);
    shards.push(Buffer.from(base64, "base64"));
  }
  weights.push(...group.weights);
}
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "weights.bin"), Buffer.concat(shards));
const manifest = [{ paths: ["weights.bin"], weights }];
fs.writeFileSync(
  path.join(out, "model.json"),
  JSON.stringify({ format: "layers-model", modelTopology: model.modelTopology,
                   weightsManifest: manifest }));
