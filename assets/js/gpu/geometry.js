// Shapes and sliding-window geometry for the kernels, as py/cnnlens/ops/windows.py plans
// them. The output sizes always come from the node's own shapes (the engine's shape rules);
// only where a window starts (its begin padding) and what counts as padding are worked out
// here, because the kernels need them and the engine does not send them.

export const size = (shape) => shape.reduce((n, d) => n * d, 1);

// Row-major strides of `shape`.
export function strides(shape) {
  const out = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

const AUTO_PADS = new Set(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]);

// Per spatial axis of a 2-D window op: kernel, strides, dilations, begin and end padding
// (explicit or from auto_pad; the ceil-mode overhang is never padding), and the output size.
// `spatial` (H, W), `kernel` (kH, kW), `output` (Ho, Wo); null for attributes the engine
// would refuse (the node then stays on NumPy, which says why).
export function windowPlan(spatial, kernel, output, attrs) {
  const autoPad = attrs.auto_pad || "NOTSET";
  if (!AUTO_PADS.has(autoPad)) return null;
  const rank = spatial.length;
  const stride = attrs.strides || new Array(rank).fill(1);
  const dilation = attrs.dilations || new Array(rank).fill(1);
  const pads = attrs.pads || new Array(2 * rank).fill(0);
  if (stride.length !== rank || dilation.length !== rank || pads.length !== 2 * rank) return null;
  const begin = [];
  const end = [];
  for (let i = 0; i < rank; i++) {
    const span = (kernel[i] - 1) * dilation[i] + 1;
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
      const out = Math.ceil(spatial[i] / stride[i]);
      const total = Math.max(0, (out - 1) * stride[i] + span - spatial[i]);
      const low = autoPad === "SAME_UPPER" ? Math.floor(total / 2) : total - Math.floor(total / 2);
      begin.push(low);
      end.push(total - low);
    } else if (autoPad === "VALID") {
      begin.push(0);
      end.push(0);
    } else {
      begin.push(pads[i]);
      end.push(pads[rank + i]);
    }
  }
  return { kernel, stride, dilation, begin, end, output };
}
