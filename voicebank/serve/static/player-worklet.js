// The speak board's audio player, on the audio thread: plays 16-bit PCM of one utterance at a
// time from a small jitter buffer, resampled to the AudioContext's rate, and stops at once.
//
// Messages in (port): {type: "begin", id, rate}, {type: "pcm", id, pcm: Int16Array},
// {type: "end", id}, {type: "flush"}.
// Messages out: {type: "started"|"pos"|"drained"|"underrun", id, time, played},
// {type: "silent", id, time, frame} (the first silent output after a flush).

const START_SECONDS = 0.08; // buffered before an utterance starts (or its end came): jitter room
const POS_EVERY = 8; // render quanta between position reports (about 20 ms at 48 kHz)

// Cubic (Catmull-Rom) resampling that keeps its place between pieces of one stream.
class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;
    this.tail = new Float32Array([0]); // input not yet passed: x[-1] = 0 before the first sample
    this.pos = 1; // where the next output falls, in samples of `tail`
  }

  push(input) {
    const x = new Float32Array(this.tail.length + input.length);
    x.set(this.tail);
    x.set(input, this.tail.length);
    const out = [];
    let pos = this.pos;
    while (pos + 2 < x.length) {
      const i = Math.floor(pos);
      const t = pos - i;
      const a = x[i - 1], b = x[i], c = x[i + 1], d = x[i + 2];
      out.push(b + 0.5 * t * (c - a + t * (2 * a - 5 * b + 4 * c - d + t * (3 * (b - c) + d - a))));
      pos += this.step;
    }
    const keep = Math.max(0, Math.floor(pos) - 1);
    this.tail = x.slice(keep);
    this.pos = pos - keep;
    return Float32Array.from(out);
  }

  finish() {
    return this.push(new Float32Array(2)); // the last samples, against silence
  }
}

class PcmPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.id = null;
    this.queue = [];
    this.offset = 0; // read position in queue[0]
    this.buffered = 0; // output samples waiting
    this.playing = false;
    this.ended = false;
    this.played = 0; // output samples of this utterance played
    this.quanta = 0;
    this.silence = null; // the id a flush silenced, to report on the next quantum
    this.resampler = null;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(msg) {
    if (msg.type === "flush") {
      this.silence = { id: this.id };
      this.reset(null);
    } else if (msg.type === "begin") {
      this.reset(msg.id);
      this.resampler = msg.rate === sampleRate ? null : new Resampler(msg.rate, sampleRate);
    } else if (msg.id !== this.id) {
      return; // a piece of an utterance that is no longer current
    } else if (msg.type === "pcm") {
      const pcm = msg.pcm;
      const floats = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) floats[i] = pcm[i] / 32768;
      this.append(this.resampler ? this.resampler.push(floats) : floats);
    } else if (msg.type === "end") {
      if (this.resampler) this.append(this.resampler.finish());
      this.ended = true;
    }
  }

  reset(id) {
    this.id = id;
    this.queue = [];
    this.offset = 0;
    this.buffered = 0;
    this.playing = false;
    this.ended = false;
    this.played = 0;
    this.resampler = null;
  }

  append(samples) {
    if (samples.length === 0) return;
    this.queue.push(samples);
    this.buffered += samples.length;
  }

  report(type, extra) {
    this.port.postMessage({ type, id: this.id, time: currentTime, played: this.played / sampleRate, ...extra });
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    out.fill(0);
    if (this.silence) {
      this.port.postMessage({ type: "silent", id: this.silence.id, time: currentTime, frame: currentFrame });
      this.silence = null;
    }
    if (this.id === null) return true;
    if (!this.playing) {
      if (this.buffered < START_SECONDS * sampleRate && !this.ended) return true;
      if (this.buffered === 0) return this.finishUtterance();
      this.playing = true;
      this.report("started");
    }
    let written = 0;
    while (written < out.length && this.queue.length > 0) {
      const head = this.queue[0];
      const n = Math.min(out.length - written, head.length - this.offset);
      out.set(head.subarray(this.offset, this.offset + n), written);
      written += n;
      this.offset += n;
      if (this.offset === head.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    this.buffered -= written;
    this.played += written;
    if (this.buffered === 0) {
      if (this.ended) return this.finishUtterance();
      this.playing = false; // ran dry before the end: buffer again before going on
      this.report("underrun");
    }
    if (++this.quanta % POS_EVERY === 0) this.report("pos");
    return true;
  }

  finishUtterance() {
    this.report("drained");
    this.reset(null);
    return true;
  }
}

registerProcessor("pcm-player", PcmPlayer);
