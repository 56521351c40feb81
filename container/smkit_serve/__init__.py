"""The smkit inference server: SageMaker-compliant serving of scikit-learn-compatible models.

Runs inside the image. Depends on flask, gunicorn, numpy, scikit-learn, joblib, orjson and
pysimdjson; never on boto3, sagemaker or the network.
"""

import os

__version__ = os.environ.get("SMKIT_VERSION", "0.0.0")
