"""The inference image: resolving and building it, running it under Docker, pruning old
builds, and the pickle scan that reads what a model needs."""
