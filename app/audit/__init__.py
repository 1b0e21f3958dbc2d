"""The audit trail of security-relevant actions: who, what, when; never content."""
