from .runner_builder import (add_common_arguments, build_runner_from_args, parse_tool_args,
                             readable_errors)

__all__ = ['add_common_arguments', 'build_runner_from_args', 'parse_tool_args', 'readable_errors']
