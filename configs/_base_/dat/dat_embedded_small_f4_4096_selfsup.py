# The CPU DAT settings (dat_embedded_small_f4_4096.py) for self-supervised pre-training: clean and
# adversarial losses each on its own batch (see dat_openimages_f8_16384_selfsup.py).
_base_ = ['./dat_embedded_small_f4_4096.py']
dat = dict(train_on='separate')
