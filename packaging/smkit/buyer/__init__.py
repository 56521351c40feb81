"""The buyer's side: running a published model package from its ARN, as a Marketplace buyer
does, in the cloud (CreateModel with network isolation, CreateTransformJob, the wait) or on this
machine (SDK local mode, or smkit's runner).

``jobs`` drives the runs and holds what the CLI calls; ``package`` reads the model package
(its ARN's region, DescribeModelPackage); ``image`` finds or pulls its image by digest;
``staging`` moves objects through S3; ``wait`` follows a cloud job and its logs; ``billing``
prices it from the listing; ``emulated`` runs SageMaker's side when the endpoint is moto.
"""
