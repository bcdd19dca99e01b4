from .runner_builder import build_runner_from_args, readable_errors

__all__ = ['build_runner_from_args', 'readable_errors']
