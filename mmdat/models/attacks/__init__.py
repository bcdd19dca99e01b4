from mmdat.registry import ATTACKS
from .perturbation import (AttackResult, BaseAttack, GradAttack, L2Attack, LinfAttack, build_attack,
                           per_sample_norm)

__all__ = ['ATTACKS', 'AttackResult', 'BaseAttack', 'GradAttack', 'L2Attack', 'LinfAttack',
           'build_attack', 'per_sample_norm']
