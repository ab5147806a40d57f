"""Client documents: uploaded files with their type, expiry and review state."""
