// The page ↔ worker protocol, JavaScript side: every request the page can make, the shape
// of every answer, and the one client that sends requests in order and reads the answers.
// py/cnnlens/protocol.py is the Python side (py/worker.py exports exactly its requests);
// tests/test_protocol.py checks that REQUESTS and JSON_FIELDS here agree with it.
//
// Adding a request: one entry in REQUESTS below (and a typedef for a new answer type), one
// Request in protocol.py, and its handler method on page.App.

/**
 * Any request may answer this instead of its answer type: a sentence for the reader.
 * Nothing changed in the worker. `Client.ask` throws it as an AnswerError.
 * @typedef {{error: string}} ErrorAnswer
 */
/** @typedef {{file: string, label: string}} Example */
/**
 * One model of the site's catalogue (assets/models/index.json).
 * @typedef {{id: string, name: string, file: string, examples: ?string, untrained: boolean, note: string}} CatalogueEntry
 */
/**
 * The bundled model is loaded (no image yet): its examples, the catalogue, its id.
 * @typedef {{examples: Example[], catalogue: CatalogueEntry[], model: string, timings: {model_ms: number}}} Started
 */
/**
 * The whole next overview: its view-model (py/cnnlens/views/overview.py) and RGBA tiles,
 * and which backend ran its forward pass (py/cnnlens/backend_requests.py `label`).
 * @typedef {{view: object, rasters: Uint8Array, timings: {compute_ms: number, view_ms: number}, backend: Backend}} OverviewAnswer
 */
/**
 * One overview column showing the page of its channels that holds the channel asked for:
 * the column as the overview has it, its tiles' offsets into `rasters`.
 * @typedef {{view: object, rasters: Uint8Array}} ChannelsAnswer
 */
/**
 * A catalogue model is open: an OverviewAnswer plus its catalogue entry and the examples
 * the strip now shows (its own, or the previous ones when it has none).
 * @typedef {OverviewAnswer & {entry: CatalogueEntry, examples: Example[]}} ModelOpened
 */
/**
 * One detail view: view-model, float32 numbers and RGBA rasters; `view.arrays` and
 * `view.images` say where each named array or image lies (py/cnnlens/views/bundle.py).
 * @typedef {{view: object, numbers: Float32Array|Uint8Array, rasters: Uint8Array}} DetailAnswer
 */
/**
 * Attribution maps of one tile or class for the current image
 * (py/cnnlens/views/attribution.py), laid out like a DetailAnswer.
 * @typedef {{view: object, numbers: Float32Array|Uint8Array, rasters: Uint8Array}} AttributionAnswer
 */
/**
 * The running job's complete current state (py/cnnlens/jobs.py; `view.kind` names the
 * method, e.g. "maximize": py/cnnlens/views/maximize.py, numbers `pictures` (N, C, H, W)
 * and `values` (step + 1, N), rasters `pictures` (N, H, W)), laid out like a DetailAnswer.
 * @typedef {{view: object, numbers: Float32Array|Uint8Array, rasters: Uint8Array}} JobAnswer
 */
/**
 * The reader's own probe set as read: `{name, count, classes, labelled, skipped}`.
 * @typedef {{probe: object}} ProbeAnswer
 */
/**
 * Whether a job was running when it was cancelled, and its last step.
 * @typedef {{cancelled: boolean, step: number}} JobCancelled
 */
/**
 * The hyperparameter playground for one setting (py/cnnlens/views/playground.py).
 * @typedef {{playground: object}} PlaygroundAnswer
 */
/**
 * The article's figures for the current image (py/cnnlens/views/figures.py): per figure
 * (relu, pool, softmax, colours) `{data, description, svg}` or null, and `image`.
 * @typedef {{figures: object}} FiguresAnswer
 */
/**
 * The model's preprocessing for the page's form: `source` ("metadata", "defaults",
 * "reader"), `channels`, `size_fixed`, `resize`, `scale`, and `fields`, the form's text.
 * @typedef {{preprocessing: object}} PreprocessingAnswer
 */
/**
 * The current model as a laid-out graph (py/cnnlens/views/architecture.py): `nodes`
 * (boxes at x, y), `edges` (polylines), `totals`, `width`, `height`.
 * @typedef {{architecture: object}} ArchitectureAnswer
 */
/**
 * The live code cells (py/cnnlens/live_code.py): `cells` (per cell `cell`, `op`,
 * `function`, `module`, `line`, `source` — the engine's — and `text` in effect), `modified`,
 * `kernels` (the edited ones) and `budget_s`. The learner's failing code answers
 * `{error, cell, line}` (CodeErrorAnswer) to `code_run`, `code_reset` and `kernel_set`.
 * @typedef {{code: object}} CodeAnswer
 */
/**
 * One conv neuron's kernels (C, kH, kW) now (`values`) and as loaded (`original`).
 * @typedef {{kernel: object}} KernelAnswer
 */
/** One tensor of the current forward pass (automation). @typedef {{shape: number[], values: Float32Array|Uint8Array}} TensorAnswer */
/**
 * What ran a forward pass: `backend` "WebGPU" (any layer) or "NumPy", `forward_ms`, per node
 * its backend, the reader's `choice` ("auto", "webgpu", "numpy"), whether a GPU is
 * `available` (`gpu` its adapter), `first` (the model's first pass on the GPU: weights sent,
 * kernels compiled), and `note`: why NumPy runs where WebGPU was wanted.
 * @typedef {{backend: string, choice: string, forward_ms: ?number, layers: {node: string, op: string, backend: string}[], note: ?string, available: boolean, gpu: ?string, first: boolean}} Backend
 */
/**
 * Forward passes on one backend (benchmarks, bench/webgpu.html): per whole pass, and per
 * node in passes of one GPU call per node.
 * @typedef {{backend: string, total_ms: number[], layers: {node: string, op: string, backend: string, ms: number[]}[], note: ?string}} BackendTimes
 */
/**
 * Every float tensor of one forward pass on one backend (tests): `index` JSON text
 * `{tensors: [{name, shape, offset}], ran}`, offsets in floats into `numbers`.
 * @typedef {{index: string, numbers: Float32Array|Uint8Array}} TensorsAnswer
 */
/** Milliseconds of each forward pass (benchmarks). @typedef {number[]} ForwardTimes */
/**
 * Per node, milliseconds in each forward pass (benchmarks).
 * @typedef {{node: string, op: string, output: string, ms: number[]}[]} LayerTimes
 */
/** Milliseconds of each backward pass (benchmarks). @typedef {number[]} BackwardTimes */
/** Bytes of the worker's WebAssembly memory (benchmarks). @typedef {{wasm_bytes: number}} Memory */

// name: { args: the arguments in order, answer: the answer typedef (null: none) }.
export const REQUESTS = {
  load_packages: { args: [], answer: null },
  start: { args: ["base_url"], answer: "Started" },
  example: { args: ["file"], answer: "OverviewAnswer" },
  image: { args: ["data", "name"], answer: "OverviewAnswer" },
  model: { args: ["data", "name"], answer: "OverviewAnswer" },
  model_tfjs: { args: ["json_text", "shard_bytes", "name"], answer: "OverviewAnswer" },
  model_caffe: { args: ["prototxt_text", "name"], answer: "OverviewAnswer" },
  open_model: { args: ["id"], answer: "ModelOpened" },
  mode: { args: ["mode"], answer: "OverviewAnswer" },
  backend: { args: ["choice"], answer: "OverviewAnswer" },
  preprocess: { args: ["settings"], answer: "OverviewAnswer" },
  preprocessing: { args: [], answer: "PreprocessingAnswer" },
  channels: { args: ["layer", "channel"], answer: "ChannelsAnswer" },
  detail: { args: ["layer", "channel"], answer: "DetailAnswer" },
  attribution: { args: ["layer", "channel", "method", "cam_layer"], answer: "AttributionAnswer" },
  maximize_start: { args: ["target", "settings", "seed", "steps"], answer: "JobAnswer" },
  invert_start: { args: ["layer", "mode", "settings", "seed", "steps"], answer: "JobAnswer" },
  dissect_start: { args: ["layer", "probe", "top"], answer: "JobAnswer" },
  dissect_probe: { args: ["data", "files"], answer: "ProbeAnswer" },
  job_step: { args: ["max_ms"], answer: "JobAnswer" },
  job_cancel: { args: [], answer: "JobCancelled" },
  playground: { args: ["n", "p", "k", "s"], answer: "PlaygroundAnswer" },
  figures: { args: [], answer: "FiguresAnswer" },
  architecture: { args: [], answer: "ArchitectureAnswer" },
  code: { args: [], answer: "CodeAnswer" },
  code_run: { args: ["texts"], answer: "OverviewAnswer" },
  code_reset: { args: [], answer: "OverviewAnswer" },
  kernel: { args: ["layer", "channel"], answer: "KernelAnswer" },
  kernel_set: { args: ["layer", "channel", "input_channel", "values"], answer: "OverviewAnswer" },
  tensor: { args: ["name"], answer: "TensorAnswer" },
  time_forward: { args: ["repeats"], answer: "ForwardTimes" },
  time_layers: { args: ["repeats"], answer: "LayerTimes" },
  time_backward: { args: ["repeats"], answer: "BackwardTimes" },
  time_backend: { args: ["backend", "repeats"], answer: "BackendTimes" },
  tensors: { args: ["backend"], answer: "TensorsAnswer" },
  memory: { args: [], answer: "Memory" },
};

// The fields of each answer type that travel as JSON text (protocol.py's `Json`); `decode`
// parses them, so the typedefs above describe decoded answers.
export const JSON_FIELDS = {
  Started: ["examples", "catalogue"],
  OverviewAnswer: ["view", "backend"],
  ModelOpened: ["view", "backend", "entry", "examples"],
  ChannelsAnswer: ["view"],
  DetailAnswer: ["view"],
  AttributionAnswer: ["view"],
  JobAnswer: ["view"],
  ProbeAnswer: ["probe"],
  PlaygroundAnswer: ["playground"],
  FiguresAnswer: ["figures"],
  PreprocessingAnswer: ["preprocessing"],
  ArchitectureAnswer: ["architecture"],
  TensorsAnswer: ["index"],
  CodeAnswer: ["code"],
  KernelAnswer: ["kernel"],
  TensorAnswer: ["shape"],
};

// An {error} answer (or one that cannot be read): `message` is meant for the reader.
export class AnswerError extends Error {
  constructor(message, request) {
    super(message);
    this.name = "AnswerError";
    this.request = request;
  }
}

// The answer to request `name` with its JSON fields parsed; throws AnswerError for {error}.
export function decode(name, answer) {
  if (answer && answer.error !== undefined) throw new AnswerError(String(answer.error), name);
  const fields = JSON_FIELDS[REQUESTS[name].answer] || [];
  if (fields.length === 0) return answer;
  const decoded = { ...answer };
  for (const field of fields) {
    try {
      decoded[field] = JSON.parse(answer[field]);
    } catch (error) {
      throw new AnswerError(`cnnlens could not read its answer to ${name} (${error.message})`, name);
    }
  }
  return decoded;
}

// What to tell the reader about a failed request: our message, or that it is a bug.
export function explain(error) {
  if (error instanceof AnswerError) return error.message;
  return `Something went wrong inside cnnlens: ${error?.message || error}`;
}

// The one way to the worker. Requests run one after another in the order they were sent,
// so an answer always belongs to the state every earlier request left (a detail asked after
// an image change shows the new image) and answers arrive in the order asked.
export class Client {
  #queue = Promise.resolve();
  #exports;

  // exports: the worker's functions (PyScript's `worker.sync`), or a promise of them: what is
  // sent before the worker is up waits in the queue and runs, in order, once it is.
  constructor(exports) {
    this.#exports = Promise.resolve(exports);
    // One function per request, queued like the rest, answering undecoded (automation and
    // the benchmarks: `cnnlens.python.time_forward(5)`).
    this.python = Object.fromEntries(Object.keys(REQUESTS).map((name) => [name, (...args) => this.send(name, ...args)]));
  }

  // Queues request `name`; resolves to its raw answer (JSON fields still text, {error} as is).
  send(name, ...args) {
    const request = REQUESTS[name];
    if (!request) return Promise.reject(new Error(`there is no request called ${name}`));
    if (args.length !== request.args.length) {
      return Promise.reject(new Error(`${name} takes ${request.args.length} argument(s) (${request.args.join(", ")}), not ${args.length}`));
    }
    const answer = this.#queue.then(() => this.#exports).then((exports) => exports[name](...args));
    this.#queue = answer.catch(() => {});  // a failed request does not stop the ones after it
    return answer;
  }

  // Queues request `name`; resolves to its decoded answer, or rejects with AnswerError.
  async ask(name, ...args) {
    return decode(name, await this.send(name, ...args));
  }
}
