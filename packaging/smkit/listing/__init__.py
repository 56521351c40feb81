"""The AWS Marketplace listing: ``listing.yaml``, Catalog API change sets, publishing, preview."""
