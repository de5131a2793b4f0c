// Takes on their way to the bank: each is kept in IndexedDB until the server answers 2xx
// (the take is then durable in the bank), and retried with a growing pause until it is.
// The server's answer to a retry of the same upload id and sha256 is the same take, never a second one.

const DB_NAME = "voicebank-recorder";
const STORE = "uploads";
const FIRST_WAIT_MS = 1000;
const LONGEST_WAIT_MS = 30000;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// Where IndexedDB is missing or refused (some private windows), takes wait in memory only.
class MemoryStore {
  constructor() { this.items = new Map(); }
  async put(item) { this.items.set(item.id, item); }
  async remove(id) { this.items.delete(id); }
  async all() { return [...this.items.values()]; }
  get durable() { return false; }
}

class IdbStore {
  constructor(db) { this.db = db; }

  static async open() {
    const opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id" });
    return new IdbStore(await request(opening));
  }

  async transact(mode, work) {
    const tx = this.db.transaction(STORE, mode);
    const result = await request(work(tx.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  }

  put(item) { return this.transact("readwrite", (s) => s.put(item)); }
  remove(id) { return this.transact("readwrite", (s) => s.delete(id)); }
  all() { return this.transact("readonly", (s) => s.getAll()); }
  get durable() { return true; }
}

export function newUploadId() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Why the server refused a take for good: a retry would be refused the same way.
export class Refused extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class UploadQueue {
  // onChange({waiting, refused}) after every change; onSaved(item, answer) after each 2xx.
  constructor({ onChange, onSaved, onRefused }) {
    this.onChange = onChange;
    this.onSaved = onSaved;
    this.onRefused = onRefused;
    this.store = null;
    this.waiting = new Map(); // id -> item
    this.timer = null;
    this.wait = FIRST_WAIT_MS;
    this.busy = false;
    this.failing = false; // the last try of some take got no answer (or a "try again" one)
  }

  // Opens the store and sends whatever an earlier visit left unsaved.
  async open() {
    try {
      this.store = await IdbStore.open();
    } catch (error) {
      console.warn(`IndexedDB is not available (${error}); unsaved takes live only while the page is open.`);
      this.store = new MemoryStore();
    }
    for (const item of await this.store.all()) this.waiting.set(item.id, item);
    this.changed();
    if (this.waiting.size) this.flush();
  }

  // Keeps the take (in IndexedDB first), then sends it.
  async add({ bank, mode, promptId, body, capture }) {
    const item = { id: newUploadId(), bank, mode, promptId, body, capture, sha256: await sha256Hex(body), made: Date.now() };
    await this.store.put(item);
    this.waiting.set(item.id, item);
    this.changed();
    this.wait = FIRST_WAIT_MS;
    this.flush();
    return item;
  }

  changed() {
    this.onChange({ waiting: this.waiting.size, failing: this.failing, durable: this.store ? this.store.durable : true });
  }

  async flush() {
    if (this.busy) {
      this.again = true; // a take added while sending goes out in the same round
      return;
    }
    this.busy = true;
    this.again = false;
    clearTimeout(this.timer);
    let failed = false;
    try {
      for (const item of [...this.waiting.values()].sort((a, b) => a.made - b.made)) {
        if (!(await this.send(item))) {
          failed = true;
          break; // the server is away: try them all again later, oldest first
        }
      }
    } finally {
      this.busy = false;
    }
    if (this.failing !== failed) {
      this.failing = failed;
      this.changed();
    }
    if (!failed && this.again) return this.flush();
    if (failed) {
      this.timer = setTimeout(() => this.flush(), this.wait);
      this.wait = Math.min(this.wait * 2, LONGEST_WAIT_MS);
    } else {
      this.wait = FIRST_WAIT_MS;
    }
  }

  // True when the item is settled (saved, or refused for good); false to try again later.
  async send(item) {
    let response;
    try {
      response = await fetch(`/v1/record/banks/${encodeURIComponent(item.bank)}/uploads/${item.id}?mode=${item.mode}`, {
        method: "PUT",
        credentials: "same-origin",
        headers: {
          "Content-Type": "audio/wav",
          "X-Prompt-Id": item.promptId,
          "X-Content-SHA256": item.sha256,
          "X-Capture": encodeURIComponent(JSON.stringify(item.capture)), // a header carries bytes: "Anna’s AirPods" would not go
        },
        body: item.body,
      });
    } catch (error) {
      return false; // no answer: the network or the server is down
    }
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      await this.settle(item);
      this.onSaved(item, answer);
      return true;
    }
    if (response.status >= 500 || response.status === 429 || response.status === 401 || response.status === 408) {
      return false; // worth another try (a 401 after pairing again)
    }
    await this.settle(item);
    const message = (answer.error && answer.error.message) || `the server answered ${response.status}`;
    this.onRefused(item, new Refused(response.status, message));
    return true;
  }

  async settle(item) {
    await this.store.remove(item.id);
    this.waiting.delete(item.id);
    this.changed();
  }

  retryNow() {
    this.wait = FIRST_WAIT_MS;
    return this.flush();
  }
}
