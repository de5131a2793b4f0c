"""The voice bank: crash-safe storage of takes, prompt scripts and quality checks.

Works without any model or torch.
"""
