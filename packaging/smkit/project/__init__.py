"""The seller's project: the spec (smkit.yaml), the model artifact (model.tar.gz) and its
OpenAPI document."""
