"""Local stand-ins for AWS: moto server, a Docker registry, and smkit's Catalog API emulator."""
