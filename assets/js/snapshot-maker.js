// The throwaway worker of snapshot.js: boots a bare interpreter, posts its memory snapshot
// (`{snapshot}`, the buffer transferred) or `{error}`, and is ended by the page.
import { makeSnapshot } from "./runtime-progress.js";

try {
  const snapshot = await makeSnapshot();
  postMessage({ snapshot }, [snapshot.buffer]);
} catch (error) {
  postMessage({ error: `the Python snapshot could not be made: ${error.message || error}` });
}
