"""Codebook-collapse guard for VQ training: a data-initialised codebook and dead-code restarts.

Without it a small VQGAN ends up using a handful of its K codes. The guard

- sets the codebook, once, to k-means centroids of the first batch's encoder outputs;
- counts for every code how many iterations ago it was last chosen, and re-seeds codes idle for
  ``dead_code_iters`` iterations with encoder outputs of the current batch.

Distributed training: code counts are summed over ranks; new codebook rows are computed on rank 0
and broadcast, so every rank holds the same codebook. The ``mmengine.dist`` calls do nothing when
training is not distributed.
"""
import torch
import torch.nn as nn
from mmengine import dist


def kmeans_centroids(points: torch.Tensor, num_clusters: int, num_iters: int,
                     generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means on ``points`` (N, d), started from randomly chosen points.

    With fewer points than clusters the start repeats points with small noise. A cluster that loses
    all its points keeps its previous centroid.

    Args:
        points (Tensor): data, shape (N, d).
        num_clusters (int): number of centroids K.
        num_iters (int): Lloyd iterations; 0 returns the random start.
        generator (torch.Generator): source of randomness, on the CPU.

    Returns:
        Tensor: centroids, shape (K, d).
    """
    points = points.float()
    centroids = sample_rows(points, num_clusters, generator)
    for _ in range(num_iters):
        assignment = torch.cdist(points, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, points)
        counts = torch.bincount(assignment, minlength=num_clusters)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled].unsqueeze(1).to(points.dtype)
    return centroids


def sample_rows(points: torch.Tensor, num_rows: int, generator: torch.Generator) -> torch.Tensor:
    """``num_rows`` distinct rows of ``points`` when there are enough, else rows drawn with
    replacement plus noise of 1% of the points' standard deviation, so that no two rows coincide."""
    num_points = points.shape[0]
    if num_points >= num_rows:
        chosen = torch.randperm(num_points, generator=generator)[:num_rows].to(points.device)
        return points[chosen].clone()
    chosen = torch.randint(num_points, (num_rows, ), generator=generator).to(points.device)
    noise = torch.randn(num_rows, points.shape[1], generator=generator).to(points)
    spread = points.std(dim=0, keepdim=True) if num_points > 1 else points.abs() + 1e-3
    return points[chosen] + 0.01 * spread * noise


class CodebookGuard(nn.Module):
    """Keeps a VQ codebook in use: k-means initialisation and dead-code restarts.

    Its buffers (whether the codebook was initialised, per-code idle iterations) are saved with the
    model, so a resumed run neither re-initialises the codebook nor forgets idle counts.

    Args:
        num_codes (int): codebook size K.
        kmeans_iters (int): Lloyd iterations of the initialisation; -1 skips the initialisation and
            keeps the quantizer's own. Defaults to 10.
        dead_code_iters (int): a code not chosen for this many iterations is re-seeded; 0 turns
            restarts off. Also the window of the reported codebook usage. Defaults to 100.
        seed (int): seed of the guard's own random generator. Defaults to 0.
    """

    def __init__(self, num_codes: int, kmeans_iters: int = 10, dead_code_iters: int = 100,
                 seed: int = 0) -> None:
        super().__init__()
        if num_codes < 1:
            raise ValueError(f'num_codes must be >= 1, but got num_codes={num_codes}')
        if kmeans_iters < -1:
            raise ValueError(f'kmeans_iters must be >= -1, but got kmeans_iters={kmeans_iters}')
        if dead_code_iters < 0:
            raise ValueError(
                f'dead_code_iters must be >= 0, but got dead_code_iters={dead_code_iters}')
        self.num_codes = num_codes
        self.kmeans_iters = kmeans_iters
        self.dead_code_iters = dead_code_iters
        self.random_generator = torch.Generator().manual_seed(seed)
        self.register_buffer('initialized', torch.tensor(kmeans_iters < 0))
        self.register_buffer('idle_iters', torch.zeros(num_codes, dtype=torch.long))

    @torch.no_grad()
    def initialize(self, codebook: torch.Tensor, latents: torch.Tensor) -> bool:
        """Set ``codebook`` (K, d) to k-means centroids of ``latents`` (N, d) unless already done.

        Returns:
            bool: whether the codebook was set now.
        """
        if bool(self.initialized):
            return False
        self._check_shapes(codebook, latents)
        centroids = kmeans_centroids(latents.detach(), self.num_codes, self.kmeans_iters,
                                     self.random_generator).to(codebook)
        dist.broadcast(centroids, src=0)
        codebook.copy_(centroids)
        self.initialized.fill_(True)
        return True

    @torch.no_grad()
    def update(self, codebook: torch.Tensor, indices: torch.Tensor,
               latents: torch.Tensor) -> dict[str, float]:
        """Count the codes chosen in this iteration and re-seed the dead ones.

        Args:
            codebook (Tensor): the quantizer's codebook (K, d), changed in place.
            indices (Tensor): code indices chosen in this iteration (any shape).
            latents (Tensor): the encoder outputs that were quantized, (N, d).

        Returns:
            dict: ``codebook_usage`` (fraction of codes chosen within the last ``dead_code_iters``
            iterations, or in this iteration when restarts are off), ``perplexity`` (exp of the
            entropy of this iteration's code frequencies) and ``restarted_codes``.
        """
        self._check_shapes(codebook, latents)
        counts = torch.bincount(indices.reshape(-1), minlength=self.num_codes)
        dist.all_reduce(counts, op='sum')
        counts = counts.to(self.idle_iters.device)
        self.idle_iters.add_(1)
        self.idle_iters[counts > 0] = 0
        frequencies = counts.double() / counts.sum().clamp(min=1)
        entropy = -(frequencies * frequencies.clamp(min=1e-12).log()).sum()
        window = max(self.dead_code_iters, 1)
        usage = (self.idle_iters < window).double().mean()
        restarted = self._restart_dead_codes(codebook, latents) if self.dead_code_iters else 0
        return dict(codebook_usage=float(usage), perplexity=float(entropy.exp()),
                    restarted_codes=float(restarted))

    def _restart_dead_codes(self, codebook: torch.Tensor, latents: torch.Tensor) -> int:
        dead = (self.idle_iters >= self.dead_code_iters).nonzero().squeeze(1)
        if dead.numel() == 0:
            return 0
        seeds = sample_rows(latents.detach().float(), dead.numel(), self.random_generator)
        seeds = seeds.to(codebook)
        dist.broadcast(seeds, src=0)
        codebook[dead.to(codebook.device)] = seeds
        self.idle_iters[dead] = 0
        return dead.numel()

    def _check_shapes(self, codebook: torch.Tensor, latents: torch.Tensor) -> None:
        if codebook.shape[0] != self.num_codes or latents.dim() != 2 \
                or latents.shape[1] != codebook.shape[1]:
            raise ValueError(
                f'expected a codebook of shape ({self.num_codes}, d) and latents of shape (N, d), '
                f'but got codebook {tuple(codebook.shape)} and latents {tuple(latents.shape)}')
