"""Training a taming VQGAN discretizer with mmengine."""
from .codebook import CodebookGuard, kmeans_centroids
from .discriminator import PatchDiscriminator
from .losses import adaptive_adversarial_weight, discriminator_hinge_loss, generator_adversarial_loss
from .model import VQGANTrainer
from .perceptual import LiteFeatureLoss, LPIPSLoss
from .widen import widen_state_dict

__all__ = [
    'CodebookGuard', 'kmeans_centroids', 'PatchDiscriminator', 'adaptive_adversarial_weight',
    'discriminator_hinge_loss', 'generator_adversarial_loss', 'VQGANTrainer', 'LPIPSLoss',
    'LiteFeatureLoss', 'widen_state_dict'
]
