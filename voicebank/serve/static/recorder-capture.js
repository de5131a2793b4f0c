// The microphone, unprocessed: getUserMedia with the browser's voice processing off, PCM
// through an AudioWorklet at the device's rate, and the take encoded here as a WAV file.
// Never MediaRecorder: its formats are lossy.

const PROCESSING_OFF = { echoCancellation: { exact: false }, noiseSuppression: { exact: false }, autoGainControl: { exact: false } };
const TAIL_MS = 200; // recording goes on this long after Stop, so the last sound is not cut off

export class Microphone {
  constructor({ onLevel }) {
    this.onLevel = onLevel;
    this.context = null;
    this.node = null;
    this.track = null;
    this.chunks = [];
    this.stopped = null;
    this.opening = null;
  }

  // Opens the microphone once; call it again from a tap or key press to start audio on
  // browsers that allow it only then (Safari, and Chrome without a gesture yet).
  async open() {
    if (!this.opening) this.opening = this.connect().catch((error) => { this.opening = null; throw error; });
    await this.opening;
    if (this.context.state !== "running") await this.context.resume();
  }

  async connect() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser gives no microphone here. Open the page over HTTPS (or on this computer).");
    }
    const stream = await this.askForMicrophone();
    this.track = stream.getAudioTracks()[0];
    const rate = this.track.getSettings().sampleRate;
    this.context = makeContext(rate);
    if (!this.context.audioWorklet) throw new Error("This browser is too old to record here (no AudioWorklet): please update it.");
    await this.context.audioWorklet.addModule("/static/recorder-worklet.js");
    const source = this.context.createMediaStreamSource(stream);
    this.node = new AudioWorkletNode(this.context, "voicebank-capture", { numberOfInputs: 1, numberOfOutputs: 1 });
    this.node.port.onmessage = (event) => this.message(event.data);
    source.connect(this.node);
    this.node.connect(this.context.destination); // keeps the graph pulling; the node outputs silence
  }

  async askForMicrophone() {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: { ...PROCESSING_OFF, channelCount: { ideal: 1 } } });
    } catch (error) {
      // A browser that cannot switch processing off refuses "exact"; take what it gives and record what it did.
      if (error.name !== "OverconstrainedError") throw error;
      return navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    }
  }

  // What the take's record keeps: the settings the browser really applied.
  capture() {
    const s = this.track ? this.track.getSettings() : {};
    return {
      echoCancellation: s.echoCancellation ?? null,
      noiseSuppression: s.noiseSuppression ?? null,
      autoGainControl: s.autoGainControl ?? null,
      sampleRate: this.context ? this.context.sampleRate : s.sampleRate ?? null,
      deviceSampleRate: s.sampleRate ?? null,
      channelCount: s.channelCount ?? null,
      deviceLabel: this.track ? this.track.label : "",
      userAgent: navigator.userAgent,
    };
  }

  message(data) {
    if (data.type === "level") this.onLevel(data.peak, data.rms);
    else if (data.type === "pcm") this.chunks.push(data.pcm);
    else if (data.type === "stopped" && this.stopped) this.stopped();
  }

  start() {
    this.chunks = [];
    this.node.port.postMessage({ type: "start" });
  }

  // Resolves with the take's samples once the audio thread has handed over the last of them.
  async stop({ tail = true } = {}) {
    if (tail) await new Promise((done) => setTimeout(done, TAIL_MS));
    const done = new Promise((resolve) => { this.stopped = resolve; });
    this.node.port.postMessage({ type: "stop" });
    await done;
    this.stopped = null;
    const size = this.chunks.reduce((n, c) => n + c.length, 0);
    const samples = new Float32Array(size);
    let at = 0;
    for (const c of this.chunks) {
      samples.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    return samples;
  }

  get rate() {
    return this.context.sampleRate;
  }
}

// An AudioContext at the microphone's own rate where the browser allows it (no resampling),
// else at its default rate.
function makeContext(rate) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (rate) {
    try {
      return new Context({ sampleRate: rate, latencyHint: "interactive" });
    } catch (error) {
      console.warn(`No AudioContext at ${rate} Hz here (${error.message}); using the default rate.`);
    }
  }
  return new Context({ latencyHint: "interactive" });
}

// A mono WAV file of 24-bit PCM: lossless for any microphone, and what the bank stores.
export function encodeWav(samples, rate) {
  const bytes = samples.length * 3;
  const buffer = new ArrayBuffer(44 + bytes);
  const view = new DataView(buffer);
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + bytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 3, true);
  view.setUint16(32, 3, true);
  view.setUint16(34, 24, true);
  text(36, "data");
  view.setUint32(40, bytes, true);
  const out = new Uint8Array(buffer, 44);
  for (let i = 0, at = 0; i < samples.length; i++, at += 3) {
    const x = Math.max(-1, Math.min(1, samples[i]));
    let v = Math.round(x * 8388608);
    if (v > 8388607) v = 8388607;
    if (v < 0) v += 16777216;
    out[at] = v & 0xff;
    out[at + 1] = (v >> 8) & 0xff;
    out[at + 2] = (v >> 16) & 0xff;
  }
  return buffer;
}
