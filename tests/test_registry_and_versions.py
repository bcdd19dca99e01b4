"""mmdat components resolve as ``type='mmdat.Name'`` under the mmdet and mmpretrain default scopes."""
import pytest
from mmengine.registry import DefaultScope, init_default_scope

import mmdat
from mmdat.utils import version_check


@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain'])
@pytest.mark.parametrize('registry_name, type_name', [
    ('MODELS', 'mmdat.IdentityDiscretizer'),
    ('MODELS', 'mmdat.VQGANDiscretizer'),
    ('MODELS', 'mmdat.DATDataPreprocessor'),
    ('MODELS', 'mmdat.DATClsDataPreprocessor'),
    ('HOOKS', 'mmdat.DATHook'),
])
def test_prefixed_types_resolve_under_downstream_scopes(scope, registry_name, type_name):
    init_default_scope(scope)
    downstream = __import__(f'{scope}.registry', fromlist=[registry_name])
    registry = getattr(downstream, registry_name)
    with registry.switch_scope_and_registry(None) as current:
        assert current.get(type_name) is not None, f'{type_name} not found from scope {scope}'
    DefaultScope._instance_dict.clear()


def test_unprefixed_names_are_not_found_in_downstream_registries():
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    assert MODELS.get('DATDataPreprocessor') is None


def test_built_components_keep_stock_base_arguments():
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    dp = MODELS.build(dict(type='mmdat.DATDataPreprocessor', mean=[1, 2, 3], std=[4, 5, 6], bgr_to_rgb=True,
                           pad_size_divisor=32, dat=dict(discretizer=dict(type='mmdat.IdentityDiscretizer'))))
    assert dp.pad_size_divisor == 32 and dp.mean.flatten().tolist() == [1, 2, 3]


def test_version_check_names_the_package_and_the_fix(monkeypatch):
    real = version_check.installed_version
    monkeypatch.setattr(version_check, 'installed_version',
                        lambda name: '2.2.0' if name == 'mmcv' else real(name))
    with pytest.raises(ImportError,
                       match=r'mmcv 2.2.0 is installed, mmdat needs mmcv>=2.0.0rc4,<2.2.0.*make install'):
        version_check.check_versions()


def test_version_check_passes_on_the_installed_stack():
    version_check.check_versions()
    assert mmdat.__version__


@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain', 'mmengine'])
def test_attacks_build_by_class_name_under_any_default_scope(scope):
    from mmdat.models.attacks import ATTACKS, L2Attack, LinfAttack, build_attack
    init_default_scope(scope)
    assert type(build_attack(dict(type='L2Attack', eps=0.1))) is L2Attack
    assert type(build_attack(dict(type='mmdat.LinfAttack', eps=0.1))) is LinfAttack
    assert sorted(ATTACKS.module_dict) == ['CodeFlipAttack', 'GradAttack', 'L2Attack', 'LatentPGDAttack',
                                           'LinfAttack', 'QuantizedPGDAttack']
    with pytest.raises(KeyError, match="'l2' \\(renamed 'L2Attack'\\); registered attacks: CodeFlipAttack"):
        build_attack(dict(type='l2'))


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_hue_adjustment_works_on_numpy_2_and_equals_mmcv_where_mmcv_works(backend):
    import mmcv
    import numpy as np
    from mmpretrain.datasets.transforms import ColorJitter

    from mmdat.utils import mmcv_fixes
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert mmcv.adjust_hue is mmcv_fixes.adjust_hue  # import mmdat put it there (numpy 2 here)
    mmcv_own = mmcv_fixes.MMCV_ADJUST_HUE
    for factor in (0.0, 0.1, 0.37, 0.5):
        np.testing.assert_array_equal(mmcv_fixes.adjust_hue(image, factor, backend),
                                      mmcv_own(image, factor, backend))
    with pytest.raises(OverflowError):  # the bug the replacement exists for
        mmcv_own(image, -0.2, backend)
    there = mmcv_fixes.adjust_hue(image, -0.2, backend)
    assert np.abs(there.astype(int) - image.astype(int)).mean() > 20
    back = mmcv_fixes.adjust_hue(there, 0.2, backend)  # HSV round trips lose a little
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 8
    jitter = ColorJitter(hue=0.5, backend=backend)  # draws a negative factor half the time
    for seed in range(8):
        np.random.seed(seed)
        jitter(dict(img=image.copy()))
