"""The HTTP server: the OpenAI-compatible speech API (``voicebank serve``)."""
