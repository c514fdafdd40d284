// Python starts first. This is the page's first module script and imports only what starting
// the worker needs, so the runtime downloads and boots while the page's other modules (some
// sixty) still load and the prerendered overview is drawn; app.js takes the client from here.
import { stage } from "./boot-progress.js";
import { startClient } from "./runtime.js";

export const python = startClient(stage);
