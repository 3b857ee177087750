// The reference the image network's test compares against: runs a TensorFlow.js layers model
// (the unwrapped nsfwjs MobileNetV2) in TensorFlow.js itself on one 224 × 224 RGB picture and
// prints the class scores and the L2-normalised pooled features as JSON.
// Setup (once, anywhere): npm install @tensorflow/tfjs@4.22.0
// Usage: ffmpeg -i shoe224.png -f rawvideo -pix_fmt rgb24 shoe224.rgb
//        NODE_PATH=…/node_modules node tfjs-reference.cjs .models/nsfwjs-mobilenet_v2 shoe224.rgb
"use strict";
const tf = require("@tensorflow/tfjs");
const fs = require("fs");
const [dir, raw] = process.argv.slice(2);
(async () => {
  const topology = JSON.parse(fs.readFileSync(`${dir}/model.json`));
  const weights = fs.readFileSync(`${dir}/weights.bin`);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: topology.modelTopology,
    weightSpecs: topology.weightsManifest[0].weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
  }));
  // nsfwjs's own preprocessing: RGB scaled to [0, 1].
  const input = tf.tensor(Uint8Array.from(fs.readFileSync(raw)), [1, 224, 224, 3], "int32")
                    .toFloat().div(255);
  const both = tf.model({
    inputs: model.inputs,
    outputs: [model.getLayer("average_pooling2d_1").output, model.outputs[0]],
  });
  const [pooled, classes] = both.predict(input);
  const features = Array.from(await pooled.data());
  const norm = Math.sqrt(features.reduce((sum, x) => sum + x * x, 0));
  console.log(JSON.stringify({
    classes: Array.from(await classes.data()).map((x) => Number(x.toPrecision(7))),
    features: features.map((x) => Number((x / norm).toPrecision(7))),
  }));
})();
