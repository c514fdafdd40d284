/**
 * cnnlens's WebGPU backend: the forward pass's convolution core as WGSL compute kernels,
 * called by the engine (in the PyScript worker: WebGPU exists in dedicated workers) for the
 * nodes it sends here, node by node the same results as py/cnnlens/ops within float32
 * rounding. Nothing here decides which nodes run where: the engine asks `supports(node)`.
 *
 * Contract (stable; later changes only extend it):
 *
 *   export async function openGpu(): Promise<Gpu | null>
 *     null where there is no navigator.gpu, no adapter or no device (the engine stays on NumPy).
 *
 *   class Gpu
 *     readonly label: string      the adapter, for the page ("google swiftshader", "nvidia …")
 *     readonly device: GPUDevice  (for tests: device.destroy() simulates a device loss)
 *     supports(node): boolean
 *       node = {op, attrs, inputs: [name], outputs: [name], shapes: {name: dims}}: ONNX op
 *       name and decoded attributes (strings as strings, ints and floats as numbers, lists as
 *       arrays), every input's and output's shape. Conv, MaxPool, AveragePool (2-D),
 *       GlobalAveragePool, GlobalMaxPool, Gemm, MatMul (2-D right operand), Relu, Sigmoid,
 *       Clip, BatchNormalization (inference), Add, Sub, Mul, Div (NumPy broadcasting), Concat,
 *       and the views Flatten, Reshape, Identity, Dropout, Squeeze, Unsqueeze (no kernel: the
 *       output shares the input's buffer). `attrs.fuse` = {op: "Relu"} or {op: "Clip", min,
 *       max} (a bound null or absent is open) on Conv, Gemm, MatMul, BatchNormalization,
 *       Add/Sub/Mul/Div applies that activation to the node's output in the same kernel
 *       (the pre-activation is then never stored: the engine fuses only where no view
 *       needs it). Clip's bounds come from attrs min/max or its inputs #1/#2, which must then
 *       be fed or weights. Every tensor is float32; one larger than the device's
 *       maxStorageBufferBindingSize (the adapter's own limit is asked for) is refused.
 *     async setWeights(modelKey, tensors)
 *       tensors = {name: {data: Float32Array, shape: number[]}}: uploaded now (data is copied
 *       at once, so it may be a view on Pyodide's memory), kept on the GPU under modelKey;
 *       several calls add to the model's weights (a name given again is replaced).
 *     dropWeights(modelKey)  frees that model's weights.
 *     async run(modelKey, nodes, feeds, wanted): Promise<{name: Float32Array}>
 *       nodes: supported nodes in execution order; feeds = {name: {data, shape}}: the inputs
 *       not computed here (the image, tensors NumPy computed); a node's inputs are looked up in
 *       the feeds, then the outputs of earlier nodes, then modelKey's weights. All nodes go in
 *       one submission; `wanted` (names of fed, computed or weight tensors) come back in ONE
 *       batched readback, each a row-major Float32Array of its shape. Rejects with an Error
 *       naming the node for an unsupported node or a missing tensor, and with the device's
 *       own message for a validation or memory error. One run at a time: await each before
 *       the next (the device's error scopes are a stack).
 *     onLost(callback)
 *       callback({reason, message}) once when the device is lost (device.destroy(), a driver
 *       reset); from then on run and setWeights reject with "WebGPU device lost …".
 */
import { size } from "./geometry.js";
import { programs, supportsNode, VIEWS } from "./ops.js";

export async function openGpu() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return null;
    const wanted = ["maxStorageBufferBindingSize", "maxBufferSize"];
    const requiredLimits = Object.fromEntries(wanted.map((name) => [name, adapter.limits[name]]));
    const device = await adapter.requestDevice({ requiredLimits });
    const info = adapter.info || {};
    const label = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ");
    return new Gpu(device, label || "WebGPU adapter");
  } catch {
    return null;
  }
}

const bytesOf = (shape) => Math.max(4, size(shape) * 4);

export class Gpu {
  constructor(device, label) {
    this.device = device;
    this.label = label;
    this.models = new Map(); // modelKey → Map(name → {buffer, shape, values (small ones)})
    this.pipelines = new Map(); // WGSL code → Promise<GPUComputePipeline>
    this.free = new Map(); // byte size → [GPUBuffer], activations reused across runs
    this.lostInfo = null;
    this.lostCallbacks = [];
    device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
      for (const callback of this.lostCallbacks.splice(0)) callback(this.lostInfo);
    });
  }

  onLost(callback) {
    if (this.lostInfo) queueMicrotask(() => callback(this.lostInfo));
    else this.lostCallbacks.push(callback);
  }

  supports(node) {
    if (!supportsNode(node)) return false;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    return [...node.inputs, ...node.outputs].every((name) => !name || !node.shapes[name]
      || bytesOf(node.shapes[name]) <= limit);
  }

  checkAlive() {
    if (this.lostInfo) {
      throw new Error(`WebGPU device lost (${this.lostInfo.reason || "unknown"}: `
        + `${this.lostInfo.message || "no message"}); this backend cannot run any more`);
    }
  }

  async setWeights(modelKey, tensors) {
    this.checkAlive();
    if (!this.models.has(modelKey)) this.models.set(modelKey, new Map());
    const model = this.models.get(modelKey);
    for (const [name, { data, shape }] of Object.entries(tensors)) {
      checkTensor(name, data, shape);
      model.get(name)?.buffer.destroy();
      const buffer = this.device.createBuffer({
        size: bytesOf(shape), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      // Small ones (Clip's bounds) are also kept here, where a kernel's constants are made.
      model.set(name, { buffer, shape, values: data.length <= 16 ? Float32Array.from(data) : null });
    }
  }

  dropWeights(modelKey) {
    for (const { buffer } of this.models.get(modelKey)?.values() || []) buffer.destroy();
    this.models.delete(modelKey);
  }

  async run(modelKey, nodes, feeds, wanted) {
    this.checkAlive();
    const device = this.device;
    const weights = this.models.get(modelKey) || new Map();
    const tensors = new Map(); // name → {buffer, shape}
    const owned = [];
    const acquire = (shape) => {
      const buffer = this.acquire(bytesOf(shape));
      owned.push(buffer);
      return buffer;
    };
    const find = (name, node) => {
      const tensor = tensors.get(name) || weights.get(name);
      if (!tensor) {
        const where = node ? `node ${node.name || node.op} needs` : "wanted";
        throw new Error(`WebGPU run: ${where} "${name}", which is neither fed, computed by an earlier node, nor a weight of model "${modelKey}"`);
      }
      return tensor;
    };
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let scopes = 2; // popped once the work is submitted, or on the way out of a failure
    const popErrors = async () => {
      const errors = [];
      for (; scopes > 0; scopes--) errors.push(await device.popErrorScope());
      return errors.find(Boolean);
    };
    let staging = null;
    try {
      for (const [name, { data, shape }] of Object.entries(feeds)) {
        checkTensor(name, data, shape);
        const buffer = acquire(shape);
        device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
        tensors.set(name, { buffer, shape, values: data.length <= 16 ? data : null });
      }
      for (const node of nodes) {
        if (!this.supports(node)) {
          throw new Error(`WebGPU run: node ${node.name || node.op} (${node.op}) is not supported here`);
        }
      }
      const planned = await Promise.all(nodes.map((node) => VIEWS.has(node.op) ? null
        : this.compile(programs(node, clipBounds(node, (name) => find(name, node))))));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      nodes.forEach((node, i) => {
        const shape = node.shapes[node.outputs[0]];
        if (VIEWS.has(node.op)) {
          tensors.set(node.outputs[0], { buffer: find(node.inputs[0], node).buffer, shape });
          return;
        }
        const output = acquire(shape);
        for (const { pipeline, bind, groups } of planned[i]) {
          const buffers = [...bind.map((name) => find(name, node).buffer), output];
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, device.createBindGroup({
            layout: pipeline.getBindGroupLayout(0),
            entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
          }));
          pass.dispatchWorkgroups(...groups);
        }
        tensors.set(node.outputs[0], { buffer: output, shape });
      });
      pass.end();
      const reads = [];
      let total = 0;
      for (const name of wanted) {
        const { buffer, shape } = find(name, null);
        const bytes = size(shape) * 4;
        reads.push({ name, buffer, offset: total, bytes });
        total += Math.ceil(bytes / 4) * 4;
      }
      staging = device.createBuffer({ size: Math.max(4, total), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      for (const read of reads) {
        if (read.bytes) encoder.copyBufferToBuffer(read.buffer, 0, staging, read.offset, read.bytes);
      }
      device.queue.submit([encoder.finish()]);
      const error = await popErrors();
      if (error) throw new Error(`WebGPU: ${error.message}`);
      await staging.mapAsync(GPUMapMode.READ).catch((cause) => {
        this.checkAlive();
        throw cause;
      });
      const mapped = staging.getMappedRange();
      const out = {};
      for (const { name, offset, bytes } of reads) out[name] = new Float32Array(mapped.slice(offset, offset + bytes));
      staging.unmap();
      return out;
    } catch (error) {
      await popErrors().catch(() => {});
      this.checkAlive();
      throw error;
    } finally {
      staging?.destroy();
      // The submission has finished (or never started) by now, so the buffers can be reused.
      for (const buffer of owned) this.release(buffer);
    }
  }

  async compile(list) {
    return Promise.all(list.map(async ({ code, bind, groups }) => {
      if (!this.pipelines.has(code)) {
        const module = this.device.createShaderModule({ code });
        this.pipelines.set(code, this.device.createComputePipelineAsync({
          layout: "auto", compute: { module, entryPoint: "main" },
        }).catch(async (error) => {
          const { messages } = await module.getCompilationInfo();
          const said = messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
          throw new Error(`WebGPU kernel does not compile: ${said || error.message}`);
        }));
      }
      return { pipeline: await this.pipelines.get(code), bind, groups };
    }));
  }

  acquire(bytes) {
    const list = this.free.get(bytes);
    if (list?.length) return list.pop();
    return this.device.createBuffer({
      size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
  }

  release(buffer) {
    if (!this.free.has(buffer.size)) this.free.set(buffer.size, []);
    this.free.get(buffer.size).push(buffer);
  }
}

function checkTensor(name, data, shape) {
  if (!(data instanceof Float32Array)) throw new Error(`WebGPU: tensor "${name}" must be a Float32Array`);
  if (!Array.isArray(shape) || size(shape) !== data.length) {
    throw new Error(`WebGPU: tensor "${name}" has ${data.length} values, its shape ${JSON.stringify(shape)} needs ${size(shape)}`);
  }
}

// Clip's {min, max}: attributes (before opset 11), else inputs #1/#2, read from a feed or a
// weight (their values are kept on this side); {} for every other op.
function clipBounds(node, find) {
  if (node.op !== "Clip") return {};
  const bound = (index, attr) => {
    const name = node.inputs[index];
    if (!name) return node.attrs?.[attr] ?? null;
    const { values } = find(name);
    if (!values || values.length !== 1) {
      throw new Error(`WebGPU run: Clip ${node.name || ""} bound "${name}" must be a fed or weight scalar`);
    }
    return values[0];
  };
  return { min: bound(1, "min"), max: bound(2, "max") };
}
