// The page's side of the audio player: the AudioContext (made on the first user gesture), the
// worklet node, and which utterance is current. PCM of any other utterance is dropped.

const WORKLET_URL = "/static/player-worklet.js";

export class Player {
  // `tap`: when set, the exact PCM handed to the worklet is kept there per utterance (tests).
  constructor({ onReport = () => {}, tap = null } = {}) {
    this.onReport = onReport;
    this.tap = tap;
    this.context = null;
    this.node = null;
    this.pending = []; // messages for the worklet while its module loads
    this.current = null;
    this.begun = false;
  }

  // Make (or wake) the AudioContext; call from a user gesture, as browsers let only those start audio.
  unlock() {
    if (!this.context) {
      this.context = new AudioContext({ latencyHint: "interactive" });
      this.context.audioWorklet.addModule(WORKLET_URL).then(
        () => this.connect(),
        (err) => this.onReport({ type: "error", message: `The audio player could not start: ${err.message}` }),
      );
    }
    if (this.context.state === "suspended") this.context.resume();
  }

  connect() {
    this.node = new AudioWorkletNode(this.context, "pcm-player", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    this.node.connect(this.context.destination);
    this.node.port.onmessage = (event) => this.onReport(event.data);
    for (const [msg, transfer] of this.pending) this.node.port.postMessage(msg, transfer);
    this.pending = [];
  }

  post(msg, transfer = []) {
    if (this.node) this.node.port.postMessage(msg, transfer);
    else this.pending.push([msg, transfer]);
  }

  // The utterance `id` was asked for: whatever played before goes silent now.
  expect(id) {
    this.current = id;
    this.begun = false;
    this.post({ type: "flush" });
  }

  // Its audio starts (the server's `start` event): 16-bit mono at `rate` Hz.
  begin(id, rate) {
    if (id !== this.current) return;
    this.begun = true;
    if (this.tap) this.tap.pcm[id] = [];
    this.post({ type: "begin", id, rate });
  }

  // PCM (16-bit samples, an ArrayBuffer of their own) of utterance `id`.
  push(id, buffer) {
    if (id !== this.current || !this.begun) return;
    const pcm = new Int16Array(buffer);
    if (this.tap) this.tap.pcm[id].push(pcm.slice());
    this.post({ type: "pcm", id, pcm }, [buffer]);
  }

  end(id) {
    if (id === this.current && this.begun) this.post({ type: "end", id });
  }

  // Silence now: the worklet empties its buffer on its next render quantum.
  stop() {
    this.current = null;
    this.begun = false;
    this.post({ type: "flush" });
  }

  get time() {
    return this.context ? this.context.currentTime : null;
  }
}

// Start an <audio> element; a real failure goes to `onFailure(error)`. A pause or a new source
// before playback began (another button, the next trial or take) rejects play() on purpose: ignored.
export function playElement(el, onFailure) {
  el.play().catch((error) => {
    if (error && error.name === "AbortError") return;
    onFailure(error);
  });
}
