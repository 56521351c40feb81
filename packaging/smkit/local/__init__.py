"""Local runs: the SageMaker SDK's local mode for a real-time endpoint and a batch transform."""
