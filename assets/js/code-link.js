// The learner's edits in a link: `code=` in the address's hash, the edits as JSON
// ({code: {cell: text}, kernels: [{layer, channel, input_channel, values}]}) compressed with
// the browser's CompressionStream (deflate-raw) and written base64url. A link that carries
// code never runs it by itself: the page shows the code first (live-code.js's notice).

async function through(stream, bytes) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function unbase64url(text) {
  const plain = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

export async function pack(edits) {
  const json = new TextEncoder().encode(JSON.stringify(edits));
  return base64url(await through(new CompressionStream("deflate-raw"), json));
}

// The edits a `code=` value holds; throws when it is not one this page wrote.
export async function unpack(value) {
  const json = await through(new DecompressionStream("deflate-raw"), unbase64url(value));
  const edits = JSON.parse(new TextDecoder().decode(json));
  if (typeof edits !== "object" || edits === null || typeof edits.code !== "object" || !Array.isArray(edits.kernels)) {
    throw new Error("the link's code is not in the form this page writes");
  }
  return edits;
}

// The address of the page as it is now, plus the edits.
export async function linkWith(edits) {
  const params = new URLSearchParams(location.hash.slice(1));
  params.set("code", await pack(edits));
  return `${location.origin}${location.pathname}${location.search}#${params}`;
}
