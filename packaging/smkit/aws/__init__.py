"""AWS: clients, the ECR push, the model package publish, IAM roles, and the instance types
SageMaker offers."""
