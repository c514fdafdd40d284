// The page's questions to its service worker (sw.template.js's "message" handler): each goes
// with a MessagePort on which the worker answers once.
export function ask(serviceWorker, message, transfer = []) {
  const channel = new MessageChannel();
  const answer = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data); });
  serviceWorker.postMessage(message, [channel.port2, ...transfer]);
  return answer;
}
