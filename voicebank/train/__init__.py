"""Training: bank → dataset → fine-tune → evaluate → export.

* :mod:`.dataset` — ``prepare_dataset``: the chosen, usable takes as an LJSpeech folder with a
  held-out split (no torch, no Coqui).
* :mod:`.evaluate` — ``evaluate_voice``: similarity, WER, MCD and RTF on the held-out split,
  next to the stock voice; :mod:`.metrics` and :mod:`.report` (the HTML page) behind it.

Nothing is imported here: this is the only package that may import Coqui, and only inside
the modules that train.
"""
