// The recording session as the server holds it: the page asks for the state and sends
// actions; every answer is the new state, so a reload or a second tab always shows the truth.

export class HttpError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// A JSON request to the server; the server's error message (or what went wrong) as an HttpError.
export async function fetchJson(url, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new HttpError(0, "The server cannot be reached. Check that voicebank serve still runs, then try again.");
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (answer.error && answer.error.message) || `The server answered ${response.status}.`;
    if (response.status === 401) throw new HttpError(401, "This device is not paired (or its pairing ran out): pair it again.", answer);
    throw new HttpError(response.status, message, answer);
  }
  return answer;
}

export class Session {
  constructor({ onState, onError }) {
    this.onState = onState;
    this.onError = onError;
    this.bank = null;
    this.mode = "script";
    this.state = null;
  }

  base() {
    return `/v1/record/banks/${encodeURIComponent(this.bank)}`;
  }

  async open(bank, mode) {
    this.bank = bank;
    this.mode = mode;
    this.state = null;
    return this.reload();
  }

  close() {
    this.bank = null;
    this.state = null;
  }

  show(state) {
    this.state = state;
    this.onState(state);
  }

  async reload() {
    try {
      this.show(await fetchJson(`${this.base()}/session?mode=${this.mode}`));
      return true;
    } catch (error) {
      this.onError(`Could not open the bank ${this.bank}: ${error.message}`);
      return false;
    }
  }

  // accept, redo, skip, later, next, back or break, on the prompt the page shows.
  async act(action) {
    const promptId = this.state && this.state.prompt ? this.state.prompt.id : null;
    try {
      this.show(await fetchJson(`${this.base()}/session/${action}?mode=${this.mode}`, { method: "POST", body: { prompt_id: promptId } }));
      return true;
    } catch (error) {
      if (error.status === 409 && error.body && error.body.state) {
        this.show(error.body.state); // the page was behind (another tab, a restarted server): show the bank as it is
        const stale = error.body.error && error.body.error.code === "stale_prompt";
        this.onError(stale ? "The bank had moved on (another page?): this is where it is now." : error.message);
      } else {
        this.onError(`Could not ${action === "break" ? "note the break" : action}: ${error.message}`);
      }
      return false;
    }
  }

  // Message banking: the typed message becomes the prompt to record now.
  async addMessage(text) {
    try {
      this.show(await fetchJson(`${this.base()}/messages`, { method: "POST", body: { text } }));
      return true;
    } catch (error) {
      this.onError(`Could not add the message: ${error.message}`);
      return false;
    }
  }
}
