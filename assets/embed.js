// Include on a page that embeds cnnlens views in <iframe>s: it sizes each frame to its view.
// Only messages of our own shape, from a frame on this page, are read; nothing is evaluated.
(() => {
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || data.type !== "cnnlens:height" || typeof data.height !== "number") return;
    for (const frame of document.querySelectorAll("iframe")) {
      if (frame.contentWindow === event.source) {
        frame.style.height = `${Math.min(Math.max(data.height, 50), 20000)}px`;
      }
    }
  });
})();
