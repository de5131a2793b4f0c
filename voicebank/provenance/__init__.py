"""Trust: the speaker's consent before training, marks on every output, and checking a file.

:mod:`.consent` (consent takes in a bank and their checks), :mod:`.watermark` (an inaudible
mark on synthesized audio, batch and streaming), :mod:`.tags` (tags in WAV/FLAC/MP3/M4B/Opus
files saying the audio is synthetic), :mod:`.stamp` (tags + signed sidecar + optional C2PA on a
finished file), :mod:`.verify` (what a file carries).
"""
