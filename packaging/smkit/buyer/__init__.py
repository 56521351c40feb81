"""The buyer's side: subscribing, deploying and batch-transforming a published model package."""
