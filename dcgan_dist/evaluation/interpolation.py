"""Walks through a generator's noise space: from one seed's image to the next.

Each seed stands for its first noise vector, the one `dcgan-generate --seed=S` draws first,
so a path's ends are images the user has already seen. Between consecutive seeds the noise
moves along the great circle (spherical interpolation, White 2016, "Sampling Generative
Networks"): a straight line between two Gaussian vectors passes near the origin, where the
norm a generator was trained on never is, and its midpoints come out faded. A conditional
generator walks the same path once per class.

  z = path_noise(seeds=[0, 1, 2], steps=8, noise_dim=100)   # [(3 - 1) * 8 + 1, 100]
"""

import numpy as np

from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import sampling


def slerp(a, b, t):
    """The point a fraction t along the great circle from a to b (scaled between their
    norms); the straight line when they point the same way."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def parse_seeds(text):
    """--interpolate=0,1,2 -> [0, 1, 2]; at least two seeds."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if len(seeds) < 2:
        raise UserError(f"--interpolate={text} must be two or more seeds, e.g. 0,1 or 3,7,12")
    return seeds


def path_noise(seeds, steps, noise_dim, truncation=0.0):
    """Noise of the frames from seeds[0] to seeds[-1]: `steps` frames from each seed to the
    next, and the last seed's own: float32 [(len(seeds) - 1) * steps + 1, noise_dim]."""
    if steps < 1:
        raise UserError(f"--interpolation_steps={steps} must be at least 1")
    ends = [sampling.chunk_noise(seed, 0, 1, noise_dim, truncation).numpy()[0]
            for seed in seeds]
    frames = [slerp(a, b, i / steps) for a, b in zip(ends, ends[1:]) for i in range(steps)]
    return np.stack(frames + [ends[-1]]).astype(np.float32)


def frames(generator, z, classes=None):
    """Images [F, H, W, C] (unconditional) or [F, K, H, W, C] (a row per class) in [-1, 1]."""
    if classes is None:
        return np.asarray(generator(z, training=False), np.float32)
    k = len(classes)
    zz = np.repeat(z, k, axis=0)
    labels = np.tile(np.asarray(classes, np.int32), len(z))
    images = np.asarray(generator([zz, labels], training=False), np.float32)
    return images.reshape((len(z), k) + images.shape[1:])
