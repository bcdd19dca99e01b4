"""Checks that the installed OpenMMLab stack is one mmdat works with, and says what to install if not."""
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

from packaging.version import Version

# package -> (minimum inclusive, maximum exclusive)
SUPPORTED = {
    'torch': ('2.0.0', None),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmcv': ('2.0.0rc4', '2.2.0'),  # mmdet 3.3.0 asserts mmcv < 2.2.0 at import
    'mmdet': ('3.0.0', '3.4.0'),
    'mmpretrain': ('1.0.0', '1.3.0'),
}
REQUIRED = ('torch', 'mmengine')
INSTALL_HINT = 'run `make install` in the mmdat repository (it builds mmcv 2.1.0 with its ops)'


def installed_version(package: str) -> Optional[str]:
    """The installed distribution version of ``package``, or None."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def check_versions() -> None:
    """Raise ImportError naming the package, its version and the supported range when one is wrong.

    mmdet and mmpretrain are optional (one is enough); torch and mmengine are required. mmcv is checked
    whenever mmdet is installed, because mmdet 3.x refuses mmcv >= 2.2.
    """
    problems = []
    for package, (minimum, maximum) in SUPPORTED.items():
        found = installed_version(package)
        if found is None:
            if package in REQUIRED or (package == 'mmcv' and installed_version('mmdet')):
                problems.append(f'{package} is not installed')
            continue
        parsed = Version(found.split('+')[0])
        if parsed < Version(minimum) or (maximum and parsed >= Version(maximum)):
            bound = f'>={minimum}' + (f',<{maximum}' if maximum else '')
            problems.append(f'{package} {found} is installed, mmdat needs {package}{bound}')
    if problems:
        raise ImportError('mmdat: ' + '; '.join(problems) + f'. To fix: {INSTALL_HINT}.')
