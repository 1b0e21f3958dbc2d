"""Data protection for a person: the GDPR export (docs/data-protection.md)."""
