"""Benchmarks shipped as ``voicebank bench ...`` subcommands; each prints JSON."""
