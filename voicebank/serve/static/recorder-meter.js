// The live level meter: the microphone's peak level as a bar from -60 to 0 dBFS, and a
// "too loud" mark that stays lit a moment after the signal reaches full scale.

const FLOOR_DB = -60;
const CLIP_PEAK = 0.99; // a peak this close to full scale is (or is about to be) clipped
const CLIP_HOLD_MS = 1500;
const LOUD_DB = -65; // above this the meter counts the room as "someone speaks" (for ?tap=1; the fed files are silent between words)

export class LevelMeter {
  constructor({ bar, clip, tap }) {
    this.bar = bar;
    this.clip = clip;
    this.tap = tap;
    this.clipTimer = null;
    this.clipped = false; // the signal reached full scale since the last reset()
  }

  show(peak) {
    const db = peak > 0 ? 20 * Math.log10(peak) : -Infinity;
    const fraction = Math.max(0, Math.min(1, (db - FLOOR_DB) / -FLOOR_DB));
    this.bar.style.transform = `scaleX(${fraction.toFixed(3)})`; // CSSOM: allowed by the strict CSP
    if (this.tap) {
      const now = performance.now();
      this.tap.levelDb = db;
      if (db > LOUD_DB) this.tap.lastLoud = now;
      else this.tap.lastQuiet = now;
    }
    if (peak >= CLIP_PEAK) this.markClip();
  }

  markClip() {
    this.clipped = true;
    if (this.tap) this.tap.clipped = true;
    if (!this.clip.classList.contains("on")) {
      this.clip.classList.add("on");
      this.clip.textContent = "Too loud: move back a little";
    }
    clearTimeout(this.clipTimer);
    this.clipTimer = setTimeout(() => {
      this.clip.classList.remove("on");
      this.clip.textContent = "";
    }, CLIP_HOLD_MS);
  }

  reset() {
    this.clipped = false;
  }
}
