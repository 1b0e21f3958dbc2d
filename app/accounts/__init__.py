"""Organisations, users, roles, argon2id passwords, device sessions, invites, child pairing."""
