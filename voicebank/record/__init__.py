"""Recording a voice bank: the session rules, microphone capture with a crash-safe spool, the terminal recorder.

``session`` (what to record next, what happens to each take) needs no sound device;
``capture`` and ``devices`` need sounddevice (the ``record`` extra); ``tui`` is the
terminal front end behind ``voicebank record``.
"""
