"""Preflight: the checks that catch what AWS Marketplace would reject, and the measurements
under each instance type's CPU and memory limits."""
