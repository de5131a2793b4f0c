"""Fine-tuning recipes (TOML), shipped as package data."""
