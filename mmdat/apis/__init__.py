from .runner_builder import (ConfigError, add_common_arguments, add_evaluation_arguments, build_model,
                             build_runner_from_args, check_evaluation_arguments, load_tool_config,
                             parse_tool_args, readable_errors)

__all__ = ['ConfigError', 'add_common_arguments', 'add_evaluation_arguments', 'build_model',
           'build_runner_from_args', 'check_evaluation_arguments', 'load_tool_config',
           'parse_tool_args', 'readable_errors']
