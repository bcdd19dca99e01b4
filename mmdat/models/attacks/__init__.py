from mmdat.registry import ATTACKS
from .discrete import (CODE_SPACE_ATTACKS, CodeFlipAttack, CodeSpaceAttack, LatentPGDAttack,
                       QuantizedPGDAttack, position_mask)
from .names import attack_config
from .perturbation import (AttackResult, BaseAttack, GradAttack, L2Attack, LinfAttack, build_attack,
                           per_sample_norm)

__all__ = ['ATTACKS', 'AttackResult', 'BaseAttack', 'GradAttack', 'L2Attack', 'LinfAttack',
           'build_attack', 'per_sample_norm', 'CODE_SPACE_ATTACKS', 'CodeFlipAttack', 'CodeSpaceAttack',
           'LatentPGDAttack', 'QuantizedPGDAttack', 'attack_config', 'position_mask']
