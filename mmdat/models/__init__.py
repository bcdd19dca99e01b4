from . import attacks, data_preprocessors, discretizers, vqgan_training  # noqa: F401  (registers components)
