"""The project's lint settings (setup.cfg: flake8 and OpenMMLab's isort layout, 110 columns) hold."""
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

PATHS = ['mmdat', 'tools', 'tests', 'configs', 'setup.py']


@pytest.mark.parametrize('linter', [['flake8'], ['isort', '--check-only', '--diff']])
def test_code_passes_the_linter(linter):
    proc = subprocess.run([sys.executable, '-m', *linter, *PATHS], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f'{linter[0]} found:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}'
