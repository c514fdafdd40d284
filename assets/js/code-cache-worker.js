// The throwaway worker of code-cache.js: imports every module script it is sent (through the
// service worker, which answers from the release's cache) and posts how many it imported.
// Modules that need a document throw here; they were compiled all the same, which is the point.
self.onmessage = async ({ data: urls }) => {
  const results = await Promise.allSettled(urls.map((url) => import(url)));
  postMessage(results.length);
};
