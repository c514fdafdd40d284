// Elements of the architecture view, made from attributes and children only: the page's
// Content-Security-Policy refuses inline style, so looks come from classes and
// architecture.css.

const SVG = "http://www.w3.org/2000/svg";

function made(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

export function svg(tag, attributes = {}, children = []) {
  return made(document.createElementNS(SVG, tag), attributes, children);
}

export function html(tag, attributes = {}, children = []) {
  return made(document.createElement(tag), attributes, children);
}
