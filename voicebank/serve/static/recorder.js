// The recorder page: choose a bank, then read each prompt, hear the take back, see the
// quality check's verdict and keep it or record again. All progress lives on the server
// (docs/recorder-api.md); the browser only keeps takes that are not saved yet (recorder-uploads.js).

import { Microphone, encodeWav } from "./recorder-capture.js";
import { LevelMeter } from "./recorder-meter.js";
import { UploadQueue } from "./recorder-uploads.js";
import { Session, fetchJson } from "./recorder-session.js";
import { ConsentStep } from "./recorder-consent.js";
import { playElement } from "./player.js";

const COUNT_MS = 450; // each of 3, 2, 1: short, so the breath taken stays natural
const MIN_TAKE_S = 0.3;
const $ = (id) => document.getElementById(id);
const ui = Object.fromEntries([
  "saved", "status", "banks", "bank-list", "new-bank", "bank-name", "bank-speaker", "bank-script", "session",
  "mode-script", "mode-messages", "change-bank", "progress-bar", "progress-text", "break", "break-done",
  "message-form", "message-text", "prompt-label", "prompt-text", "count", "meter-bar", "clip", "record", "take",
  "verdict", "advice", "playback", "accept", "redo", "back", "skip", "later", "next", "count-in", "hold",
  "consent", "consent-form", "consent-speaker", "consent-operator", "consent-later", "consent-read", "consent-text",
  "consent-record", "consent-verdict-title", "consent-verdict-detail", "consent-check", "consent-done",
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]));

const params = new URLSearchParams(location.search);
const tap = params.has("tap") ? (window.voicebankTap = { levelDb: -Infinity, lastLoud: 0, lastQuiet: 0, uploads: [] }) : null;
const meter = new LevelMeter({ bar: ui.meterBar, clip: ui.clip, tap });
const mic = new Microphone({ onLevel: (peak) => meter.show(peak) });
const session = new Session({ onState: render, onError: say });
const uploads = new UploadQueue({ onChange: showSaved, onSaved: takeSaved, onRefused: takeRefused });
const consent = new ConsentStep({ ui, mic, say, canRecord: () => phase === "idle", tap });

let phase = "idle"; // idle | counting | recording | saving
let waitingFor = null; // upload id of the take shown as "saving"

function say(text) {
  ui.status.textContent = text;
}

function showSaved({ waiting, failing, durable }) {
  const takes = waiting === 1 ? "1 take" : `${waiting} takes`;
  let text = "Saved";
  if (waiting && failing) text = `${takes} not yet saved — retrying`;
  else if (waiting) text = `Saving ${takes}…`;
  if (waiting && !durable) text += " (kept only while this page stays open)";
  ui.saved.textContent = text;
  ui.saved.classList.toggle("unsaved", waiting > 0 && failing);
  if (tap) tap.saved = text;
  if (failing) showUnsavedTake();
}

// ------------------------------------------------------------------ banks
async function listBanks() {
  const list = await fetchJson("/v1/record/banks").catch((error) => say(error.message));
  if (!list) return;
  ui.bankList.replaceChildren(...list.banks.map((b) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "bank";
    button.dataset.bank = b.name;
    const title = document.createElement("strong");
    title.textContent = b.name;
    const detail = document.createElement("span");
    detail.textContent = `${b.speaker ? b.speaker + " · " : ""}${b.prompts_done} of ${b.prompts_total} sentences, ${b.takes} takes`;
    button.append(title, detail);
    button.addEventListener("click", () => openBank(b.name));
    li.append(button);
    return li;
  }));
  if (!list.banks.length) ui.bankList.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No bank yet: start one below." }));
}

async function createBank(event) {
  event.preventDefault();
  const body = { name: ui.bankName.value.trim(), speaker: ui.bankSpeaker.value.trim(), script: ui.bankScript.value };
  try {
    await fetchJson("/v1/record/banks", { method: "POST", body });
    await openBank(body.name);
  } catch (error) {
    say(`Could not start the bank: ${error.message}`);
    ui.bankName.focus();
  }
}

async function openBank(name, mode = "script") {
  const url = new URL(location.href);
  url.searchParams.set("bank", name);
  url.searchParams.set("mode", mode);
  history.replaceState(null, "", url);
  if (!(await session.open(name, mode))) return;
  if (name !== consent.bank || ui.session.hidden) await consent.open(name); // first: the speaker's consent
  ui.banks.hidden = true;
  ui.session.hidden = false;
  ui.modeScript.setAttribute("aria-pressed", String(mode === "script"));
  ui.modeMessages.setAttribute("aria-pressed", String(mode === "messages"));
  ui.messageForm.hidden = mode !== "messages";
  document.title = `${name} · Record your voice`;
  ui.record.focus();
  unlockAudio();
}

// The meter runs as soon as a bank is open, so the level can be checked before recording.
function unlockAudio() {
  mic.open().catch((error) => say(`The microphone could not start: ${error.message}`));
}

function changeBank() {
  const url = new URL(location.href);
  url.searchParams.delete("bank");
  url.searchParams.delete("mode");
  history.replaceState(null, "", url);
  session.close();
  ui.session.hidden = true;
  ui.banks.hidden = false;
  listBanks();
}

// ------------------------------------------------------------------ showing the state
function render(state) {
  const p = state.progress;
  ui.progressBar.max = Math.max(1, p.total);
  ui.progressBar.value = p.done;
  const parts = [`${p.done} of ${p.total} done`, `${p.minutes.toFixed(1)} minutes of speech`];
  if (p.coverage !== null && p.coverage !== undefined) parts.push(`${Math.round(p.coverage * 100)} % of the sounds covered`);
  ui.progressText.textContent = parts.join(" · ");
  ui.break.hidden = !state.break_due;
  const prompt = state.prompt;
  if (!prompt) {
    ui.promptLabel.textContent = "All done";
    ui.promptText.textContent = state.mode === "messages" ? "Every message is recorded. Type another above." : "Every sentence is recorded. Thank you!";
  } else {
    const flag = prompt.flag ? ` (marked ${prompt.flag})` : "";
    const kind = prompt.kind === "message" ? "Message" : "Sentence";
    ui.promptLabel.textContent = `${kind} ${prompt.position} of ${prompt.total}${flag}: read this aloud`;
    ui.promptText.textContent = prompt.text;
  }
  showTake(state.take);
  setPhase(phase);
}

const VERDICTS = { pass: "Good take", warn: "Good take, with a note", fail: "This take has a problem", unknown: "Saved (not checked)" };

function showTake(take) {
  ui.take.hidden = !take;
  if (!take) {
    ui.playback.removeAttribute("src");
    return;
  }
  const kept = take.chosen;
  ui.verdict.textContent = kept ? "Kept" : VERDICTS[take.verdict] || VERDICTS.unknown;
  const first = take.problems.find((x) => x.verdict === "fail") || take.problems[0];
  const none = kept ? "This is the take the bank keeps. Record again to replace it." : "Listen back if you like, then keep it.";
  ui.advice.textContent = first ? first.advice : none;
  ui.take.dataset.verdict = take.verdict;
  ui.accept.textContent = kept ? "Keep it, go on" : take.verdict === "fail" ? "Keep it anyway" : "Keep it";
  ui.accept.classList.toggle("primary", take.verdict !== "fail" || kept);
  ui.redo.classList.toggle("primary", take.verdict === "fail" && !kept);
  if (ui.playback.getAttribute("src") !== take.url) ui.playback.src = take.url;
}

function setPhase(next) {
  phase = next;
  const state = session.state;
  const busy = phase !== "idle" || !state;
  const noPrompt = !state || !state.prompt;
  ui.record.textContent = phase === "recording" ? "Stop" : phase === "counting" ? "Cancel" : phase === "saving" ? "Saving…" : "Record";
  ui.record.classList.toggle("on", phase === "recording");
  ui.record.setAttribute("aria-pressed", String(phase === "recording" || phase === "counting"));
  ui.record.disabled = phase === "saving" || noPrompt;
  ui.back.disabled = busy;
  for (const b of [ui.skip, ui.later, ui.next]) b.disabled = busy || noPrompt;
  ui.accept.disabled = ui.redo.disabled = busy || noPrompt;
  document.body.classList.toggle("recording", phase === "recording");
}

// ------------------------------------------------------------------ recording
async function startRecording() {
  if (phase !== "idle" || consent.busy || !session.state || !session.state.prompt) return;
  try {
    await mic.open();
  } catch (error) {
    say(`The microphone could not start: ${error.message}`);
    return;
  }
  if (ui.countIn.checked) {
    setPhase("counting");
    ui.count.hidden = false;
    for (const n of ["3", "2", "1"]) {
      ui.count.textContent = n;
      await new Promise((done) => setTimeout(done, COUNT_MS));
      if (phase !== "counting") return; // cancelled
    }
    ui.count.hidden = true;
  }
  meter.reset();
  mic.start();
  setPhase("recording");
  say("Recording… press Space or Stop when you have finished.");
}

async function stopRecording() {
  if (phase === "counting") {
    ui.count.hidden = true;
    setPhase("idle");
    say("Recording cancelled.");
    return;
  }
  if (phase !== "recording") return;
  setPhase("saving");
  const prompt = session.state.prompt;
  const samples = await mic.stop();
  if (samples.length < MIN_TAKE_S * mic.rate) {
    setPhase("idle");
    say("That was too short to keep: press Record, read the sentence, then Stop.");
    return;
  }
  const body = encodeWav(samples, mic.rate);
  say("Saving the take…");
  const item = await uploads.add({ bank: session.bank, mode: session.mode, promptId: prompt.id, body, capture: mic.capture() });
  waitingFor = item.id;
  if (tap) tap.uploads.push(item.id);
  if (uploads.failing) showUnsavedTake();
}

function toggleRecording() {
  if (phase === "idle") startRecording();
  else stopRecording();
}

function takeSaved(item, answer) {
  if (tap) {
    tap.lastSaved = item.id;
    tap.savedIds = [...(tap.savedIds || []), item.id];
  }
  if (item.id !== waitingFor) {
    if (phase === "idle" && session.bank === item.bank) session.reload(); // progress moved on
    return;
  }
  waitingFor = null;
  setPhase("idle");
  if (answer.state) session.show(answer.state);
  const take = answer.take || (answer.state && answer.state.take);
  if (take) {
    const first = take.problems.find((x) => x.verdict === "fail") || take.problems[0];
    say(`Saved. ${VERDICTS[take.verdict] || VERDICTS.unknown}${first ? ": " + first.advice : "."}`);
    (take.verdict === "fail" ? ui.redo : ui.accept).focus();
  }
}

function takeRefused(item, error) {
  if (item.id === waitingFor) {
    waitingFor = null;
    setPhase("idle");
  }
  say(`The server did not keep a take: ${error.message} Please record it again.`);
}

// Until a take's upload is answered, the page keeps it and says so; the person may go on.
function showUnsavedTake() {
  if (phase === "saving" && waitingFor) {
    setPhase("idle");
    say("This take is not saved yet: the page keeps it and retries. You can go on or record it again.");
  }
}

// ------------------------------------------------------------------ actions
async function act(action) {
  if (phase !== "idle" || !session.state) return;
  const shown = await session.act(action);
  if (shown) ui.record.focus();
}

async function addMessage(event) {
  event.preventDefault();
  const text = ui.messageText.value.trim();
  if (!text) return ui.messageText.focus();
  if (await session.addMessage(text)) {
    ui.messageText.value = "";
    say("Message added: record it now.");
    ui.record.focus();
  }
}

function play() {
  if (!ui.take.hidden && ui.playback.src) {
    mic.open().catch(() => {}); // a tap on Safari unlocks audio for the recording too
    ui.playback.currentTime = 0;
    playElement(ui.playback, (error) => say(`Could not play the take: ${error.message}`));
  }
}

// ------------------------------------------------------------------ keys and buttons
const typing = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || (el.tagName === "INPUT" && el.type !== "checkbox"));
const KEYS = { a: () => act("accept"), r: () => act("redo"), s: () => act("skip"), l: () => act("later"), b: () => act("back"), p: play };

function keyDown(event) {
  if (ui.session.hidden || typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const onOtherButton = event.target.tagName === "BUTTON" && event.target !== ui.record;
  if (event.code === "Space" && !onOtherButton && event.target.tagName !== "SUMMARY" && event.target.tagName !== "INPUT") {
    event.preventDefault();
    if (event.repeat) return;
    if (ui.hold.checked) startRecording();
    else toggleRecording();
    return;
  }
  const key = KEYS[event.key.toLowerCase()];
  if (key && !event.repeat) {
    event.preventDefault();
    key();
  }
}

function keyUp(event) {
  if (event.code !== "Space" || ui.session.hidden || typing(event.target)) return;
  if (event.target.tagName === "BUTTON" && event.target !== ui.record) return;
  event.preventDefault(); // the Record button must not also "click" on Space's release
  if (ui.hold.checked) stopRecording();
}

function wire() {
  ui.newBank.addEventListener("submit", createBank);
  ui.modeScript.addEventListener("click", () => openBank(session.bank, "script"));
  ui.modeMessages.addEventListener("click", () => openBank(session.bank, "messages"));
  ui.changeBank.addEventListener("click", changeBank);
  ui.breakDone.addEventListener("click", () => act("break"));
  ui.messageForm.addEventListener("submit", addMessage);
  ui.messageText.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey) return;
    e.preventDefault(); // Enter adds the message; Shift+Enter starts a new line
    addMessage(e);
  });
  ui.record.addEventListener("pointerdown", (e) => { if (ui.hold.checked && e.button === 0) startRecording(); });
  for (const end of ["pointerup", "pointercancel", "pointerleave"]) {
    ui.record.addEventListener(end, () => { if (ui.hold.checked && phase !== "idle") stopRecording(); });
  }
  ui.record.addEventListener("click", (e) => { if (!ui.hold.checked || e.detail === 0) toggleRecording(); });
  for (const action of ["accept", "redo", "back", "skip", "later", "next"]) ui[action].addEventListener("click", () => act(action));
  ui.playback.addEventListener("play", () => { if (phase === "recording") stopRecording(); });
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { if (!ui.session.hidden) unlockAudio(); }, { capture: true });
  }
  document.addEventListener("keydown", keyDown);
  document.addEventListener("keyup", keyUp);
  window.addEventListener("online", () => uploads.retryNow());
}

async function start() {
  wire();
  await uploads.open();
  const bank = params.get("bank");
  if (bank) await openBank(bank, params.get("mode") === "messages" ? "messages" : "script");
  if (!bank || ui.session.hidden) {
    await listBanks();
    const first = ui.bankList.querySelector("button");
    if (document.activeElement === document.body) (first || ui.bankName).focus(); // unless the person moved already
  }
  if (tap) tap.ready = true;
}

start();
