// The listening test: choose a test, then blind A/B/X trials; every answer is saved on the
// server before the next trial shows (docs/listening-test.md). The page never knows which
// side is the real recording; the session's id in the address lets a reload carry on.

import { playElement } from "./player.js";
import { fetchJson } from "./recorder-session.js";

const $ = (id) => document.getElementById(id);
const ui = Object.fromEntries([
  "status", "choose", "listener", "tests", "none", "none-text", "trial", "progress-bar", "progress-text", "sentence",
  "play-a", "play-b", "play-x", "audio-a", "audio-b", "audio-x", "answer-a", "answer-b", "show-results", "leave",
  "results", "results-title", "results-summary", "results-rows", "results-sentences", "again", "back-to-trials",
  "back-to-tests",
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]));
const SIDES = ["a", "b", "x"];
const audio = { a: ui.audioA, b: ui.audioB, x: ui.audioX };
const play = { a: ui.playA, b: ui.playB, x: ui.playX };

let test = null; // the chosen test's id
let session = null; // {session, trials, answered}
let current = 0; // index of the trial shown
let heardX = false;
let sending = false;

function say(text) {
  ui.status.textContent = text;
}

function show(section) {
  for (const s of [ui.choose, ui.trial, ui.results]) s.hidden = s !== section;
}

function address() {
  const params = new URLSearchParams(location.search);
  params.delete("test");
  params.delete("session");
  if (test) params.set("test", test);
  if (session) params.set("session", session.session);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

async function listTests() {
  const { tests, how } = await fetchJson("/v1/listen/tests");
  ui.tests.replaceChildren(...tests.map(testItem));
  ui.none.hidden = tests.length > 0;
  ui.noneText.textContent = how || "";
  say(tests.length ? `${tests.length === 1 ? "One test" : `${tests.length} tests`} to choose from.` : "No test yet.");
}

function testItem(t) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.test = t.id;
  const title = document.createElement("strong");
  title.textContent = t.voice;
  const what = document.createElement("span");
  const against = t.comparisons.map((c) => c.label).join(", ");
  what.textContent = `${t.sentences} held-out sentences of ${t.dataset}; against ${against}`;
  const answers = document.createElement("span");
  answers.textContent = t.answers === 1 ? "1 answer so far" : `${t.answers} answers so far`;
  button.append(title, what, answers);
  button.addEventListener("click", () => start(t.id));
  const item = document.createElement("li");
  item.append(button);
  return item;
}

async function start(id) {
  test = id;
  session = await fetchJson(`/v1/listen/tests/${encodeURIComponent(id)}/sessions`, { method: "POST", body: {} });
  address();
  begin();
}

function begin() {
  const done = new Set(session.answered);
  current = session.trials.findIndex((t) => !done.has(t.number));
  if (current < 0) {
    showResults();
    return;
  }
  showTrial();
}

function showTrial() {
  const trial = session.trials[current];
  show(ui.trial);
  for (const side of SIDES) {
    audio[side].pause();
    audio[side].src = trial.audio[side];
    play[side].classList.remove("playing", "heard");
  }
  heardX = false;
  document.querySelector("input[name='more-like'][value='']").checked = true;
  ui.sentence.textContent = trial.text;
  const n = session.trials.length;
  ui.progressBar.max = n;
  ui.progressBar.value = current;
  ui.progressText.textContent = `Trial ${current + 1} of ${n}`;
  say(`Trial ${current + 1} of ${n}. Play A, B and X, then say which one X is.`);
  ui.playA.focus();
}

function playSide(side) {
  for (const other of SIDES) {
    if (other !== side) {
      audio[other].pause();
      play[other].classList.remove("playing");
    }
  }
  const el = audio[side];
  el.currentTime = 0;
  play[side].classList.add("playing", "heard");
  if (side === "x") heardX = true;
  playElement(el, () => say("The browser did not play the sound; press the button again."));
}

for (const side of SIDES) {
  play[side].addEventListener("click", () => playSide(side));
  audio[side].addEventListener("ended", () => play[side].classList.remove("playing"));
  audio[side].addEventListener("error", () => say(`${side.toUpperCase()} could not be loaded; reload the page.`));
}

async function answer(which) {
  if (sending || ui.trial.hidden) return;
  if (!heardX) {
    say("Play X first (key X), then say which one it is.");
    return;
  }
  const trial = session.trials[current];
  const moreLike = document.querySelector("input[name='more-like']:checked").value || null;
  sending = true;
  try {
    const listener = ui.listener.value.trim() || null;
    const saved = await fetchJson(trial.answer, { method: "POST", body: { answer: which, more_like: moreLike, listener } });
    session.answered.push(trial.number);
    if (saved.finished || current + 1 >= session.trials.length) {
      say(`Answer saved. All ${session.trials.length} trials done, thank you.`);
      await showResults();
    } else {
      current += 1;
      showTrial();
      say(`Answer saved. Trial ${current + 1} of ${session.trials.length}.`);
    }
  } catch (error) {
    say(error.message);
    if (error.status === 409) await reload();  // answered before (another tab): go on from the first open trial
  } finally {
    sending = false;
  }
}

ui.answerA.addEventListener("click", () => answer("A"));
ui.answerB.addEventListener("click", () => answer("B"));

document.addEventListener("keydown", (event) => {
  if (ui.trial.hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLInputElement && event.target.type !== "radio") return;
  const key = event.key.toLowerCase();
  if (SIDES.includes(key)) playSide(key);
  else if (key === "1") answer("A");
  else if (key === "2") answer("B");
  else return;
  event.preventDefault();
});

async function showResults() {
  for (const side of SIDES) audio[side].pause();
  const found = await fetchJson(`/v1/listen/tests/${encodeURIComponent(test)}/results`);
  ui.resultsRows.replaceChildren(...found.comparisons.map(resultRow));
  ui.resultsSentences.replaceChildren(...found.comparisons.flatMap(resultSentences));
  const who = found.listeners.length ? ` from ${found.listeners.join(", ")}` : "";
  const answers = found.answers === 1 ? "1 answer" : `${found.answers} answers`;
  const sessions = found.sessions === 1 ? "1 session" : `${found.sessions} sessions`;
  ui.resultsSummary.textContent = `${answers} in ${sessions}${who}, on ${found.voice}.`;
  const open = session && session.answered.length < session.trials.length;
  ui.backToTrials.hidden = !open;
  show(ui.results);
  ui.resultsTitle.focus();
}

function resultRow(c) {
  const row = document.createElement("tr");
  const rate = c.trials ? `${Math.round(100 * c.rate)} % (${Math.round(100 * c.interval[0])}–${Math.round(100 * c.interval[1])} %)` : "–";
  const cells = [c.label, String(c.trials), String(c.correct), rate];
  row.append(...cells.map((text, i) => {
    const cell = document.createElement(i === 0 ? "th" : "td");
    if (i === 0) cell.scope = "row";
    cell.textContent = text;
    return cell;
  }));
  row.dataset.verdict = c.verdict;
  return row;
}

function resultSentences(c) {
  const item = document.createElement("li");
  item.textContent = c.sentence;
  item.dataset.verdict = c.verdict;
  if (!c.more_like.asked) return [item];
  const more = document.createElement("li");
  more.textContent = c.more_like.sentence;
  return [item, more];
}

ui.showResults.addEventListener("click", () => showResults().catch((e) => say(e.message)));
ui.backToTrials.addEventListener("click", () => begin());
ui.again.addEventListener("click", () => start(test).catch((e) => say(e.message)));
for (const button of [ui.leave, ui.backToTests]) {
  button.addEventListener("click", () => {
    for (const side of SIDES) audio[side].pause();
    test = session = null;
    address();
    show(ui.choose);
    listTests().catch((e) => say(e.message));
  });
}
ui.listener.addEventListener("change", () => sessionStorage.setItem("voicebank-listener", ui.listener.value));

async function reload() {
  session = await fetchJson(`/v1/listen/tests/${encodeURIComponent(test)}/sessions/${encodeURIComponent(session.session)}`);
  begin();
}

async function resume() {
  ui.listener.value = sessionStorage.getItem("voicebank-listener") || "";
  const params = new URLSearchParams(location.search);
  if (params.get("test") && params.get("session")) {
    test = params.get("test");
    try {
      session = await fetchJson(`/v1/listen/tests/${encodeURIComponent(test)}/sessions/${encodeURIComponent(params.get("session"))}`);
      begin();
      return;
    } catch (error) {
      test = session = null;
      address();
      await listTests();
      say(`${error.message} Choose a test to start again.`);
      return;
    }
  }
  await listTests();
}

resume().catch((error) => say(error.message)).finally(() => { document.body.dataset.ready = "1"; });
