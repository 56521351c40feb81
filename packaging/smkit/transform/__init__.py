"""smkit's own batch transform runner, which behaves as SageMaker's batch transform does.

``runner.run_transform`` sends a job's records to a running server; ``image`` starts the
image with the environment SageMaker gives a transform container, then runs it; ``records``
splits and joins the records; ``shard`` spreads files over several containers. The job and
its local configuration are :mod:`smkit.project.transform_job`'s.
"""
