"""Core: the error types every command reports through, and the child-process helpers."""
