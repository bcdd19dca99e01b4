"""Short names of attack settings, used by study arms (``DAT+attack=codeflip-0.05``) and the analysis
tools: a kind, its budget, then optional ``-s<steps>``, ``-k<neighbours>`` (code flip) or ``-linf``
(latent PGD).

=====================  ======================================================================
``official-<eps>``     the official step: one L2 step of eps, random start with probability 0.8
``codeflip-<f>``       :class:`CodeFlipAttack`, a share ``f`` of the words (``-k32``: nearest 32)
``randomflip-<f>``     as many words swapped at random (the code flip's control)
``latentpgd-<eps>``    :class:`LatentPGDAttack`, L2 (``-linf``: L∞), 3 steps of 2.5·eps/steps
``randomlatent-<eps>`` a random latent change of the same budget (the latent PGD's control)
``qpgd-<eps>``         :class:`QuantizedPGDAttack`, 3 L2 steps of 2.5·eps/steps, no random start
=====================  ======================================================================
"""
from typing import Dict

KINDS = ('official', 'codeflip', 'randomflip', 'latentpgd', 'randomlatent', 'qpgd')


def attack_config(name: str) -> Dict:
    """The ``dat.attack`` dict of a named setting, e.g. ``attack_config('codeflip-0.05-k32')``."""
    kind, _, rest = name.partition('-')
    parts = rest.split('-') if rest else []
    usage = (f'{name!r} is not an attack name: <kind>-<budget>[-s<steps>][-k<neighbours>][-linf] with a '
             f"kind of {', '.join(KINDS)} (e.g. codeflip-0.05, qpgd-2-s5)")
    if kind not in KINDS or not parts:
        raise ValueError(usage)
    try:
        budget = float(parts[0])
        options = {part[0]: int(part[1:]) for part in parts[1:] if part != 'linf'}
    except (ValueError, IndexError):
        raise ValueError(usage) from None
    linf = 'linf' in parts[1:]
    misplaced = (linf and 'latent' not in kind) or ('k' in options and 'flip' not in kind)
    if set(options) - {'s', 'k'} or misplaced:
        raise ValueError(usage)
    steps = options.get('s')
    if kind == 'official':
        return dict(type='L2Attack', eps=budget, step_size=budget, steps=steps or 1, random_start_prob=0.8)
    if kind in ('codeflip', 'randomflip'):
        return dict(type='CodeFlipAttack', fraction=budget, steps=steps or 1, neighbours=options.get('k'),
                    selection='gain' if kind == 'codeflip' else 'random')
    steps = steps or 3
    if 'latent' in kind:
        return dict(type='LatentPGDAttack', eps=budget, step_size=2.5 * budget / steps, steps=steps,
                    norm='linf' if linf else 'l2',
                    selection='gradient' if kind == 'latentpgd' else 'random')
    return dict(type='QuantizedPGDAttack', eps=budget, step_size=2.5 * budget / steps, steps=steps,
                random_start_prob=0.0)
