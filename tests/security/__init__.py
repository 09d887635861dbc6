"""Security regression tests: one module per hardening topic (docs/security.md)."""
