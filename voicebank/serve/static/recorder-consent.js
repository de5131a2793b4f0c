// The consent step at the start of a session: the person whose voice this is reads a statement
// the server made (their name, today's date, a random code phrase); the take is stored and checked
// in the bank on the server (docs/recorder-api.md, "Consent") and the verdict is said in words.
// Shown while the bank has no passing consent; "Later" puts it away for this visit only.

import { encodeWav } from "./recorder-capture.js";
import { fetchJson } from "./recorder-session.js";
import { sha256Hex } from "./recorder-uploads.js";

const MIN_TAKE_S = 2; // the statement takes about 10 s to read
const TITLES = {
  pass: "Consent recorded and checked",
  fail: "The consent take did not pass",
  incomplete: "Consent take saved; one check is still waiting",
};
const NEXT = {
  pass: "Thank you. Go on to the sentences.",
  fail: "Press Record the statement and read it again, clearly and whole.",
  incomplete: "Record some sentences now (five or more), then press Check the consent take again: the voice check "
    + "needs recordings to compare with.",
};

export class ConsentStep {
  constructor({ ui, mic, say, canRecord, tap }) {
    this.ui = ui;
    this.mic = mic;
    this.say = say;
    this.canRecord = canRecord;
    this.tap = tap;
    this.bank = null;
    this.statement = null;
    this.phase = "idle"; // idle | recording | sending
    this.dismissed = new Set(); // banks put off with "Later" (this page only: nothing is stored in the browser)
    ui.consentForm.addEventListener("submit", (e) => this.ask(e));
    ui.consentLater.addEventListener("click", () => this.later());
    ui.consentDone.addEventListener("click", () => this.close());
    ui.consentRecord.addEventListener("click", () => this.toggle());
    ui.consentCheck.addEventListener("click", () => this.check());
  }

  get busy() {
    return this.phase !== "idle";
  }

  base() {
    return `/v1/record/banks/${encodeURIComponent(this.bank)}/consent`;
  }

  // Called when a bank is opened: the step shows itself only while no consent has passed.
  async open(bank) {
    this.bank = bank;
    this.statement = null;
    this.show({ form: true, read: false, done: false });
    this.verdict(null);
    this.ui.consent.hidden = true;
    if (this.dismissed.has(bank)) return;
    let status;
    try {
      status = await fetchJson(this.base());
    } catch (error) {
      return; // the session's own request says what is wrong with the bank
    }
    if (bank !== this.bank || status.ok) return;
    this.ui.consentSpeaker.value = status.speaker || "";
    this.ui.consent.hidden = false;
    if (status.verdict && status.verdict !== "none") this.verdict(status, "The last consent take: ");
    this.say("This bank has no consent from its speaker yet: the consent step is at the top of the page.");
    if (this.tap) this.tap.consentShown = true;
  }

  show({ form, read, done }) {
    this.ui.consentForm.hidden = !form;
    this.ui.consentRead.hidden = !read;
    this.ui.consentDone.hidden = !done;
  }

  // After more takes: the waiting voice check runs again on the take already recorded.
  async check() {
    if (this.busy) return;
    this.setPhase("sending");
    this.say("Checking the consent take again…");
    try {
      this.answer(await fetchJson(`${this.base()}/check`, { method: "POST", body: {} }));
    } catch (error) {
      this.setPhase("idle");
      this.say(`Could not check the consent take: ${error.message}`);
    }
  }

  answer(answer) {
    this.setPhase("idle");
    this.verdict(answer);
    this.say(`${TITLES[answer.verdict] || TITLES.fail}.`);
    this.show({ form: false, read: answer.verdict === "fail", done: answer.verdict !== "fail" });
    this.ui.consentVerdictTitle.focus();
    if (this.tap) this.tap.consent = answer;
  }

  async ask(event) {
    event.preventDefault();
    const speaker = this.ui.consentSpeaker.value.trim();
    if (!speaker) return this.ui.consentSpeaker.focus();
    try {
      this.statement = await fetchJson(`${this.base()}/statements`, {
        method: "POST", body: { speaker, operator: this.ui.consentOperator.value.trim() || null },
      });
    } catch (error) {
      this.say(`Could not make the statement: ${error.message}`);
      return;
    }
    this.ui.consentText.textContent = this.statement.text;
    this.verdict(null);
    this.show({ form: false, read: true, done: false });
    this.ui.consentRecord.focus();
    if (this.tap) this.tap.consentStatement = this.statement;
  }

  async toggle() {
    if (this.phase === "idle") await this.start();
    else if (this.phase === "recording") await this.stop();
  }

  async start() {
    if (!this.statement || !this.canRecord()) return;
    try {
      await this.mic.open();
    } catch (error) {
      this.say(`The microphone could not start: ${error.message}`);
      return;
    }
    this.mic.start();
    this.setPhase("recording");
    this.verdict(null);
    this.say("Recording the statement… press Stop when you have read all of it.");
  }

  async stop() {
    this.setPhase("sending");
    const samples = await this.mic.stop();
    if (samples.length < MIN_TAKE_S * this.mic.rate) {
      this.setPhase("idle");
      this.say("That was too short to hold the statement: press Record the statement, read all of it, then Stop.");
      return;
    }
    this.say("Checking the consent take… this takes a few seconds.");
    await this.send(encodeWav(samples, this.mic.rate));
  }

  async send(body) {
    const sha = await sha256Hex(body);
    let answer;
    try {
      const response = await fetch(`${this.base()}/statements/${encodeURIComponent(this.statement.id)}`, {
        method: "PUT",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "audio/wav", "X-Content-SHA256": sha,
                   "X-Capture": encodeURIComponent(JSON.stringify(this.mic.capture())) },
        body,
      });
      answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((answer.error && answer.error.message) || `The server answered ${response.status}.`);
    } catch (error) {
      this.setPhase("idle");
      const message = error instanceof TypeError ? "the server cannot be reached" : error.message;
      this.verdict({ verdict: "fail", detail: `The take was not checked: ${message}` });
      this.say("The consent take was not saved. Press Record the statement to try again.");
      return;
    }
    this.answer(answer);
  }

  // The verdict in the live region: a title a screen reader announces, the reason, and what to do next.
  verdict(answer, prefix = "") {
    const kind = answer ? (answer.ok ? "pass" : answer.verdict in TITLES ? answer.verdict : "fail") : "";
    this.ui.consent.dataset.verdict = kind;
    this.ui.consentVerdictTitle.textContent = answer ? prefix + TITLES[kind] : "";
    this.ui.consentVerdictDetail.textContent = answer ? `${answer.detail || ""} ${NEXT[kind]}`.trim() : "";
    this.ui.consentCheck.hidden = kind !== "incomplete";
  }

  setPhase(next) {
    this.phase = next;
    const r = this.ui.consentRecord;
    r.textContent = next === "recording" ? "Stop" : next === "sending" ? "Checking…" : "Record the statement";
    r.classList.toggle("on", next === "recording");
    r.setAttribute("aria-pressed", String(next === "recording"));
    r.disabled = next === "sending";
    this.ui.consentCheck.disabled = next !== "idle";
  }

  later() {
    this.dismissed.add(this.bank);
    this.close();
    this.say("Consent can be recorded later, here or with: voicebank consent record BANK. A voice is made only with it.");
  }

  close() {
    this.ui.consent.hidden = true;
    this.ui.record.focus();
  }
}
