"""The E2E key directory: device keys, one-time and fallback keys, cross-signing."""
