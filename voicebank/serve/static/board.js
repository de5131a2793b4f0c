// The speak board: type and press Enter, or press a saved phrase, to hear it in the person's voice.
// Wires the page's controls to the speech stream (stream.js) and the player (player.js).

import { Player } from "./player.js";
import { SpeechStream, streamUrl } from "./stream.js";
import { showWords, highlightAt } from "./words.js";

const HISTORY_LIMIT = 50;
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("speak-form"), text: $("text"), stop: $("stop"), status: $("status"), now: $("now"),
  phrases: $("phrases"), phrasesNote: $("phrases-note"), history: $("history"),
  voice: $("voice"), speed: $("speed"), speedValue: $("speed-value"),
};

const tap = new URLSearchParams(location.search).has("tap") ? makeTap() : null;
const player = new Player({ onReport: playerReport, tap });
const stream = new SpeechStream(streamUrl(location), {
  onHello: hello, onEvent: streamEvent, onAudio: (id, pcm) => player.push(id, pcm), onState: connectionState,
});
const utterances = new Map(); // id -> {text, words}
let counter = 0;
let current = null;

// Tests only (?tap=1): what the page handed to the worklet, and what the worklet reported.
function makeTap() {
  const t = { pcm: {}, utterances: [], reports: [], stops: [] };
  t.pcmBase64 = (id) => {
    const parts = t.pcm[id] || [];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      at += p.byteLength;
    }
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  t.latency = () => player.context && { base: player.context.baseLatency, output: player.context.outputLatency };
  t.dropConnection = () => stream.socket && stream.socket.close();
  window.voicebankTap = t;
  return t;
}

function say(request, text) {
  player.unlock();
  const id = `b${Date.now().toString(36)}-${++counter}`;
  const body = { ...request, id, speed: Number(ui.speed.value) };
  if (ui.voice.value) body.voice = ui.voice.value;
  if (!stream.send(body)) {
    setStatus("Not connected yet, so nothing was said. Your words are kept; try again in a moment.");
    return false;
  }
  current = id;
  player.expect(id);
  utterances.set(id, { text, words: [] });
  if (tap) tap.utterances.push({ id, text, request: body });
  showWords(ui.now, text, []);
  remember(request, text);
  return true;
}

function stop() {
  if (tap) tap.stops.push({ perf: performance.now(), time: player.time, id: current });
  player.stop();
  if (current) stream.send({ type: "stop", id: current });
  current = null;
  ui.now.classList.add("done");
}

function streamEvent(event) {
  const said = utterances.get(event.id);
  if (event.type === "error") {
    setStatus(`Could not say that: ${event.message}`);
    if (event.id === current) {
      current = null;
      stream.send({ type: "stop" }); // a refused request leaves the one before playing; the page already silenced it
    }
    return;
  }
  if (!said) return;
  if (event.type === "start") player.begin(event.id, event.sample_rate);
  if (event.words && event.words.length) {
    said.words = event.type === "end" ? event.words : said.words.concat(event.words);
    if (event.id === current) showWords(ui.now, said.text, said.words);
  }
  if (event.type === "end") player.end(event.id);
}

function playerReport(report) {
  if (tap && report.type !== "pos") tap.reports.push({ ...report, perf: performance.now() });
  if (report.type === "error") setStatus(report.message);
  else if (report.id === current && (report.type === "pos" || report.type === "started")) highlightAt(ui.now, report.played);
  else if (report.type === "drained" && report.id === current) {
    ui.now.classList.add("done");
    current = null;
  }
}

function hello(event) {
  const chosen = ui.voice.value || localStorage.getItem("voicebank.voice") || event.voice;
  ui.voice.replaceChildren(...event.voices.map((name) => new Option(name, name)));
  ui.voice.value = event.voices.includes(chosen) ? chosen : event.voice;
  setStatus("Connected. Ready to speak.");
  loadPhrases();
}

function connectionState(state, seconds) {
  if (state === "waiting") setStatus(`Connection lost. Trying again in ${Math.ceil(seconds)} s…`);
  else if (state === "connecting" && ui.status.textContent.startsWith("Connection lost")) setStatus("Reconnecting…");
}

function setStatus(text) {
  ui.status.textContent = text;
}

async function loadPhrases() {
  let response;
  try {
    response = await fetch("/v1/phrases", { credentials: "same-origin", cache: "no-store" });
  } catch {
    return; // the stream's reconnect says the server is away
  }
  if (response.status === 401) {
    setStatus("This device is not paired. Open the pairing link that voicebank serve printed.");
    return;
  }
  const { phrases = [] } = response.ok ? await response.json() : {};
  ui.phrases.replaceChildren(...phrases.map(phraseButton));
  ui.phrasesNote.hidden = phrases.length > 0;
  ui.phrasesNote.textContent = response.ok
    ? "No saved phrases yet. Add some on the computer with: voicebank phrases add \"…\""
    : "The saved phrases could not be read; see the server's log.";
}

function phraseButton(phrase) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "phrase";
  button.dataset.phrase = phrase.number;
  button.append(phrase.text);
  if (phrase.recorded) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "recorded";
    button.append(" ", badge);
  }
  button.addEventListener("click", () => say({ type: "phrase", phrase: phrase.number }, phrase.text));
  const item = document.createElement("li");
  item.append(button);
  return item;
}

function remember(request, text) {
  const key = JSON.stringify(request);
  for (const item of [...ui.history.children]) if (item.dataset.key === key) item.remove();
  const button = document.createElement("button");
  button.type = "button";
  button.className = "again";
  button.setAttribute("aria-describedby", "history-help");
  button.textContent = text;
  button.addEventListener("click", () => say(request, text));
  const item = document.createElement("li");
  item.dataset.key = key;
  item.append(button);
  ui.history.prepend(item);
  while (ui.history.children.length > HISTORY_LIMIT) ui.history.lastElementChild.remove();
}

function submitText() {
  const text = ui.text.value.trim();
  if (!text) return;
  if (say({ type: "speak", text }, text)) ui.text.value = "";
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitText();
});
ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitText();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    stop();
  }
});
ui.stop.addEventListener("click", stop);
for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, () => player.unlock(), { capture: true });
ui.speed.addEventListener("input", () => {
  ui.speedValue.textContent = `${Number(ui.speed.value).toFixed(2)}×`;
  localStorage.setItem("voicebank.speed", ui.speed.value);
});
ui.voice.addEventListener("change", () => localStorage.setItem("voicebank.voice", ui.voice.value));
ui.speed.value = localStorage.getItem("voicebank.speed") || "1";
ui.speed.dispatchEvent(new Event("input"));
stream.connect();
