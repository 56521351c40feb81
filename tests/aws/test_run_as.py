"""Running a container as an instance type: the limits, and the words every figure carries."""

from __future__ import annotations

from smkit.aws.instances import GIB, run_as


def test_a_type_the_machine_can_hold_runs_at_its_own_size() -> None:
    r = run_as("ml.m5.large", engine_cpus=8, engine_memory_bytes=64 * GIB)
    assert r is not None
    assert not r.capped
    assert r.docker_args() == ("--cpus", "2", "--memory", str(8 * GIB),
                               "--memory-swap", str(8 * GIB))
    assert r.phrase() == "local Docker limited to ml.m5.large's 2 vCPUs and 8 GiB"


def test_a_type_bigger_than_the_machine_says_what_it_really_ran_as() -> None:
    r = run_as("ml.m5.xlarge", engine_cpus=2, engine_memory_bytes=24 * GIB)
    assert r is not None
    assert r.capped
    assert (r.cpus, r.memory_bytes) == (2.0, 16 * GIB)
    assert r.phrase() == ("local Docker limited to ml.m5.xlarge's 4 vCPUs and 16 GiB (ran as "
                          "2 CPUs and 16.0 GiB: the measuring machine has no more)")


def test_a_type_missing_from_the_table_has_no_limits() -> None:
    assert run_as("ml.zz9.large", 2, GIB) is None
