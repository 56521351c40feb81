"""Local runs: the SageMaker SDK's local mode for a real-time endpoint and a batch transform
(``sdk``), and the housekeeping of what it leaves in Docker (``housekeeping``)."""
