from . import attacks, data_preprocessors, discretizers  # noqa: F401  (registers components)
