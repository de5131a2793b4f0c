"""A process that saves takes into a bank until it is killed (driven by test_bank_crash).

Prints ``SAVED <take id> <sha256>`` after each save returns, i.e. after the bank has
reported the take as safe. ``VOICEBANK_FAULT`` (read by the bank) may kill it mid-save.
"""

from __future__ import annotations

import sys

import numpy as np

from voicebank.bank.store import Bank


def main() -> None:
    root, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    with Bank.open(root) as bank:
        prompt = bank.add_prompt(f"Crash test sentence number {seed % 7}.", prompt_id=f"c{seed % 7}")
        print("READY", flush=True)
        for _ in range(count):
            frames = int(rng.integers(4000, 40000))
            samples = (rng.standard_normal(frames) * 0.1).astype(np.float32)
            take = bank.save_take(prompt.id, samples, 16000, subtype="PCM_16")
            print(f"SAVED {take.id} {take.sha256}", flush=True)


if __name__ == "__main__":
    main()
