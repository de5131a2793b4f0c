// The "now saying" line: the text being said, with the word being heard marked (from the
// server's word times, against the player's position).

// Show `text`, marking each timed word where it is found in it (in order; a word the voice
// read differently from how it is written, such as "Saint" for "St.", stays unmarked).
export function showWords(element, text, words) {
  element.hidden = false;
  element.classList.remove("done");
  const parts = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (const word of words) {
    const found = lower.indexOf(word.text.toLowerCase(), at);
    if (found < 0 || !word.text) continue;
    const span = document.createElement("span");
    span.textContent = text.slice(found, found + word.text.length);
    span.dataset.start = word.start;
    span.dataset.end = word.end;
    parts.push(text.slice(at, found), span);
    at = found + word.text.length;
  }
  parts.push(text.slice(at));
  element.replaceChildren(...parts);
}

// Mark the word heard `seconds` into the utterance.
export function highlightAt(element, seconds) {
  for (const span of element.querySelectorAll("span[data-start]")) {
    const on = Number(span.dataset.start) <= seconds && seconds < Number(span.dataset.end);
    span.classList.toggle("spoken", on);
  }
}
