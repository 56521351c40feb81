"""Core: the error types every command reports through, the child-process helpers, where the
files smkit ships are (``resources``) and where the state it writes goes (``paths``)."""
