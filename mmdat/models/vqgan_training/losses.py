"""Adversarial loss terms of VQGAN training (Esser et al., 2021): hinge losses and the adaptive
weight that balances the generator's GAN term against its reconstruction term."""
import torch
import torch.nn.functional as F


def discriminator_hinge_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the discriminator:
    ``(mean(relu(1 - D(x))) + mean(relu(1 + D(x_rec)))) / 2``."""
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def generator_adversarial_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """GAN loss of the generator under a hinge discriminator: ``-mean(D(x_rec))``."""
    return -logits_fake.mean()


def adaptive_adversarial_weight(reconstruction_loss: torch.Tensor, adversarial_loss: torch.Tensor,
                                last_layer_weight: torch.Tensor,
                                max_weight: float = 1e4) -> torch.Tensor:
    """Weight that scales the GAN term to the reconstruction term's gradient size at the last layer.

    ``‖∇_w L_rec‖ / (‖∇_w L_G‖ + 1e-4)``, clamped to ``[0, max_weight]`` and detached, where ``w``
    is the decoder's last weight. Both graphs are kept for the backward pass that follows.

    Args:
        reconstruction_loss (Tensor): scalar reconstruction loss (L1, plus perceptual if used).
        adversarial_loss (Tensor): scalar generator GAN loss.
        last_layer_weight (Tensor): weight of the decoder's output convolution.
        max_weight (float): upper clamp. Defaults to 1e4.
    """
    rec_grad, = torch.autograd.grad(reconstruction_loss, last_layer_weight, retain_graph=True)
    adv_grad, = torch.autograd.grad(adversarial_loss, last_layer_weight, retain_graph=True)
    weight = rec_grad.norm() / (adv_grad.norm() + 1e-4)
    return weight.clamp(0.0, max_weight).detach()
