# The paper's DAT settings (dat_openimages_f8_16384.py) for self-supervised pre-training: the same Q
# and attack, with the clean and adversarial losses each on its own batch (train_on='separate'), since
# a concatenated batch would make an image's clean and adversarial views negatives of each other.
_base_ = ['./dat_openimages_f8_16384.py']
dat = dict(train_on='separate')
