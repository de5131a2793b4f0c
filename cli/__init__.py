"""The voicebank command line (a thin typer app)."""
