"""audiobook."""
