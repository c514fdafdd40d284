// The worker's one long-running job (py/cnnlens/jobs.py) as a method panel drives it:
// a method's `*_start` request answers the job's state at step 0, then the runner asks
// `job_step` for one short chunk at a time through the ordered queue (protocol.js), hands
// every answer to the panel to draw and asks for the next, so the page and the worker stay
// free for everything else. Pause stops asking (the worker keeps the job), resume asks
// again, cancel drops the job in the worker. The worker holds one job for all panels:
// starting one halts the runner whose job it replaces, so that runner never steps (and
// draws) another panel's job.

// Milliseconds of Python work per `job_step` request: under the 100 ms the page promises
// between its answers (a step is never split, so a chunk may end a little late).
export const CHUNK_MS = 80;

let owner = null;  // the runner whose job the worker holds

// A new image or model ends the worker's job: its runner stops asking for chunks.
export function haltJob() {
  owner?.halt();
}

export class JobRunner {
  // client: protocol.js's Client; draw(answer, first): draws one state of the job (first:
  // its step 0); onState(state): the state changed (idle, starting, running, paused, done,
  // cancelled, failed); onError(error): a request failed (the state is then "failed").
  constructor(client, { draw, onState = () => {}, onError = () => {} }) {
    this.client = client;
    this.draw = draw;
    this.onState = onState;
    this.onError = onError;
    this.job = 0;  // the job the loop works for; a new one makes the old loop stop
    this.looping = null;
    this.state = "idle";
  }

  // Starts a job with `request` (e.g. "maximize_start") and runs it; resolves once its
  // first state is drawn (or the request failed).
  async start(request, ...args) {
    if (owner && owner !== this) owner.halt();
    owner = this;
    const job = ++this.job;
    this.#setState("starting");
    let answer;
    try {
      answer = await this.client.ask(request, ...args);
    } catch (error) {
      if (job === this.job) this.#fail(error);
      return;
    }
    if (job !== this.job) return;
    this.draw(answer, true);
    if (answer.view.done) this.#setState("done");
    else this.#loop(job);
  }

  // Asks for chunks until the goal, a pause or another job; draws every answer that
  // belongs to this job (the one already asked for when paused included).
  async #loop(job) {
    this.looping = job;
    this.#setState("running");
    try {
      while (this.job === job && this.state === "running") {
        let answer;
        try {
          answer = await this.client.ask("job_step", CHUNK_MS);
        } catch (error) {
          if (this.job === job) this.#fail(error);
          return;
        }
        if (this.job !== job) return;
        this.draw(answer, false);
        if (answer.view.done) this.#setState("done");
      }
    } finally {
      if (this.looping === job) this.looping = null;
    }
  }

  pause() {
    if (this.state === "running") this.#setState("paused");
  }

  // Continues the worker's job from where it stopped.
  resume() {
    if (this.state !== "paused") return;
    if (this.looping === this.job) this.#setState("running");  // its last chunk is on its way
    else this.#loop(this.job);
  }

  // The worker has dropped or is about to drop the job (a new image or model, another
  // panel's job): stop asking for chunks without a word.
  halt() {
    this.job += 1;
    if (this.state !== "idle") this.#setState("idle");
  }

  // Drops the job in the worker; what was drawn stays. Takes effect at once here: an
  // answer already on its way is not drawn.
  async cancel() {
    if (!["running", "paused", "starting"].includes(this.state)) return;
    this.job += 1;
    this.#setState("cancelled");
    try {
      await this.client.ask("job_cancel");
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error) {
    this.#setState("failed");
    this.onError(error);
  }

  #setState(state) {
    this.state = state;
    this.onState(state);
  }
}
