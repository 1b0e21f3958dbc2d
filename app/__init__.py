"""Kaari server: the litestar application and its domains."""
