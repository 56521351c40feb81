"""The seller's project as written down: the spec (smkit.yaml), the batch transform job it
describes (one type from the spec to the container), JSONPath filters and the product's
OpenAPI document. Nothing here runs Docker or calls AWS."""
