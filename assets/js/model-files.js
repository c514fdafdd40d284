// The model files a user picks or drops: an .onnx file, a Caffe .prototxt (Netscope's input;
// its text, translated by the worker, weights untrained), or a TF.js model.json with its
// weight shards, which are found by base name in manifest order and joined, as the worker
// expects. Nothing is sent anywhere; the worker gets the bytes.

export const baseName = (path) => path.split("/").pop();

export const isModelFile = (file) => /\.(onnx|json|bin|prototxt|pbtxt)$/i.test(file.name);

const isPrototxt = (file) => /\.(prototxt|pbtxt)$/i.test(file.name);

// A Caffe prototxt pasted as text, as a file the picker opens like a picked one.
export const pastedPrototxt = (text) => new File([text], "pasted.prototxt", { type: "text/plain" });

// The worker request that opens `list` ({name, args}); an Error says what is wrong with it.
export async function readModelFiles(list) {
  const files = [...list];
  const json = files.find((f) => /\.json$/i.test(f.name));
  const prototxt = files.find(isPrototxt);
  if (prototxt) return { name: "model_caffe", args: [await prototxt.text(), prototxt.name] };
  if (!json) {
    const onnx = files.find((f) => /\.onnx$/i.test(f.name));
    if (!onnx) throw new Error("Open an .onnx file, a Caffe .prototxt, or a TF.js model.json together with its weight files (.bin).");
    return { name: "model", args: [new Uint8Array(await onnx.arrayBuffer()), onnx.name] };
  }
  const text = await json.text();
  let paths;
  try {
    paths = JSON.parse(text).weightsManifest.flatMap((group) => group.paths);
  } catch {
    throw new Error(`${json.name} is not a TF.js model.json: it has no weightsManifest listing its weight files.`);
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  const missing = paths.map(baseName).filter((name) => !byName.has(name));
  if (missing.length) {
    const many = missing.length > 1;
    throw new Error(`${json.name} needs its weight file${many ? "s" : ""} ${missing.join(", ")}, which ${many ? "were" : "was"} not among the files: pick or drop ${many ? "them" : "it"} together with ${json.name}.`);
  }
  const parts = await Promise.all(paths.map((p) => byName.get(baseName(p)).arrayBuffer()));
  const joined = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  parts.reduce((at, part) => {
    joined.set(new Uint8Array(part), at);
    return at + part.byteLength;
  }, 0);
  return { name: "model_tfjs", args: [text, joined, json.name] };
}
