// Where the architecture view looks: the <svg>'s viewBox, in the graph's units. Zoom about a
// point, pan by screen pixels, centre on a point, fit the whole graph, bring a box into
// sight, and the opening view. The viewBox keeps the element's aspect ratio, so one number,
// `scale` (screen pixels per graph unit), says how large everything is drawn.

const MIN_SCALE = 0.01;  // ResNet-152 fits whole
const MAX_SCALE = 4;
const MARGIN = 8;  // screen pixels kept around a fitted graph or the opening view's top box
// The smallest text that still reads, in screen pixels: a view that would draw the boxes'
// smallest line below it is not an opening view.
export const READABLE_PX = 9;

const clamp = (scale) => Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale));

export class Camera {
  // onChange(box) after every move (the minimap follows).
  constructor(element, onChange) {
    this.element = element;
    this.onChange = onChange;
    this.box = { x: 0, y: 0, width: 1, height: 1 };
    this.size = { width: 0, height: 0 };
    this.waiting = null;
    new ResizeObserver(() => this.resized()).observe(element);
  }

  get scale() {
    return this.element.clientWidth / this.box.width;
  }

  set(x, y, width, height) {
    this.box = { x, y, width, height };
    this.element.setAttribute("viewBox", `${x} ${y} ${width} ${height}`);
    this.onChange(this.box);
  }

  // Graph point (gx, gy) at screen point (px, py) of the element (default its centre).
  look(scale, gx, gy, px = this.element.clientWidth / 2, py = this.element.clientHeight / 2) {
    const s = clamp(scale);
    const { clientWidth: w, clientHeight: h } = this.element;
    this.size = { width: w, height: h };
    this.set(gx - px / s, gy - py / s, w / s, h / s);
  }

  // Zooms by `factor` about a point in screen pixels within the element (default its centre).
  zoom(factor, px = this.element.clientWidth / 2, py = this.element.clientHeight / 2) {
    const { x, y } = this.box;
    this.look(this.scale * factor, x + px / this.scale, y + py / this.scale, px, py);
  }

  pan(dx, dy) {  // screen pixels
    const { x, y, width, height } = this.box;
    this.set(x + dx / this.scale, y + dy / this.scale, width, height);
  }

  centre(gx, gy) {
    this.look(this.scale, gx, gy);
  }

  // The scale at which the whole of `extent` ({width, height}) fits, margins included.
  fitScale(extent) {
    const { clientWidth: w, clientHeight: h } = this.element;
    return Math.min((w - 2 * MARGIN) / extent.width, (h - 2 * MARGIN) / extent.height);
  }

  fit(extent) {
    this.look(this.fitScale(extent), extent.width / 2, extent.height / 2);
  }

  // The view a graph opens with: all of it when its smallest text (`fontPx` at natural size)
  // still reads so; else, as Netron opens, the input end at a readable size: the graph's
  // width when that reads (natural size at most), the `first` box at the top, the whole
  // width centred when it fits and the first box centred when it does not.
  opening(extent, first, fontPx) {
    const readable = READABLE_PX / fontPx;
    const all = Math.min(1, this.fitScale(extent));
    if (all >= readable) {
      this.look(all, extent.width / 2, extent.height / 2);
      return;
    }
    const { clientWidth: w } = this.element;
    const s = clamp(Math.max(readable, Math.min(1, (w - 2 * MARGIN) / extent.width)));
    const gx = extent.width * s <= w - 2 * MARGIN ? extent.width / 2 : first.x;
    this.look(s, gx, first.y - first.height / 2, w / 2, MARGIN);
  }

  // Brings a box (centre x, y, width, height, graph units) into sight: centred when any of
  // it was outside, so the next steps along a chain stay in sight too.
  reveal(node) {
    const { x, y, width, height } = this.box;
    const inside = node.x - node.width / 2 >= x && node.x + node.width / 2 <= x + width
      && node.y - node.height / 2 >= y && node.y + node.height / 2 <= y + height;
    if (!inside) this.set(node.x - width / 2, node.y - height / 2, width, height);
  }

  // Runs `action` now if the element has a size, else once it gets one (a hidden section
  // has none: nothing can be fitted to it).
  whenSized(action) {
    if (this.element.clientWidth && this.element.clientHeight) action();
    else this.waiting = action;
  }

  // A resized element (a phone turned, the window narrowed) keeps its scale and centre.
  resized() {
    const { clientWidth: w, clientHeight: h } = this.element;
    if (!w || !h) return;
    if (this.waiting) {
      const action = this.waiting;
      this.waiting = null;
      action();
      return;
    }
    const { width: before } = this.size;
    if (!before || (before === w && this.size.height === h)) return;
    const { x, y, width, height } = this.box;
    this.look(before / width, x + width / 2, y + height / 2);
  }
}
