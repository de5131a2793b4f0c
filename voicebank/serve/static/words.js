// The "now saying" line: the utterance's words, with the one being heard marked (from the
// server's word times, against the player's position).

// Show `text`, or its timed `words` as separate marks when the voice gave times.
export function showWords(element, text, words) {
  element.hidden = false;
  element.classList.remove("done");
  if (!words.length) {
    element.replaceChildren(text);
    return;
  }
  const spans = words.map((word) => {
    const span = document.createElement("span");
    span.textContent = word.text;
    span.dataset.start = word.start;
    span.dataset.end = word.end;
    return span;
  });
  element.replaceChildren(...spans.flatMap((span, i) => (i ? [" ", span] : [span])));
}

// Mark the word heard `seconds` into the utterance.
export function highlightAt(element, seconds) {
  for (const span of element.querySelectorAll("span[data-start]")) {
    const on = Number(span.dataset.start) <= seconds && seconds < Number(span.dataset.end);
    span.classList.toggle("spoken", on);
  }
}
