# The embedded DAT settings (dat_embedded_small_f4_4096.py) in mmdat's cheapest mode: the clean backward
# also gives the attack direction (Eq. 7), so one discretizer pass per step instead of two.
_base_ = ['./dat_embedded_small_f4_4096.py']

dat = dict(train_on='fused')
