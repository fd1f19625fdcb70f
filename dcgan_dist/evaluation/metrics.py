"""The arithmetic of GAN metrics on feature arrays: no networks, no files, numpy only.

Fréchet distance (FID when the features are Inception's pool_3; per class, intra-class FID),
the kernel distance (KID), precision and recall (Kynkäänniemi et al. 2019), density and
coverage (Naeem et al. 2020), the classifier score, the class histogram and, for a conditional
generator, the class accuracy.
"""

import numpy as np


def classifier_score(probs):
    """exp(E_x KL(p(y|x) || p(y))): 1 for one class or no confidence, 10 for ten sure classes."""
    probs = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    marginal = probs.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1))))


def class_histogram(probs):
    """How many images each class got (argmax): mode collapse shows as empty classes."""
    probs = np.asarray(probs)
    return np.bincount(np.argmax(probs, axis=1), minlength=probs.shape[1]).tolist()


def class_accuracy(probs, labels):
    """(overall, [per class]) share of images whose top class is the label they were asked
    for: does a conditional generator draw the class it is told to? A class nobody asked
    for is NaN."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    right = np.argmax(probs, axis=1) == labels
    per_class = [float(right[labels == k].mean()) if np.any(labels == k) else float("nan")
                 for k in range(probs.shape[1])]
    return float(right.mean()), per_class


def mean_and_covariance(features):
    """The Gaussian a Fréchet distance compares: mean and (n - 1)-normalised covariance."""
    features = np.asarray(features, np.float64)
    return features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance_of_stats(mu_a, cov_a, mu_b, cov_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) of two Gaussians."""
    # Tr((S_a S_b)^1/2) = sum of sqrt(eigenvalues) of S_a^1/2 S_b S_a^1/2, which is symmetric
    # PSD, so eigh is exact and stable and numpy suffices (no scipy.linalg.sqrtm).
    vals, vecs = np.linalg.eigh(cov_a)
    sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((np.asarray(mu_a) - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * trace_sqrt)


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance_of_stats(*mean_and_covariance(features_a),
                                     *mean_and_covariance(features_b))


def intra_class_frechet(fake_features, fake_labels, real_features, real_labels, min_images=2):
    """Intra-class FID: each class's generated images against that class's real ones.

    Returns ({class index: distance}, mean over the classes scored; NaN when none could be).
    A class with fewer than `min_images` images on either side is left out (its covariance
    is undefined).
    """
    fake_labels, real_labels = np.asarray(fake_labels), np.asarray(real_labels)
    per_class = {}
    for k in np.unique(fake_labels):
        fake, real = fake_features[fake_labels == k], real_features[real_labels == k]
        if min(len(fake), len(real)) >= min_images:
            per_class[int(k)] = frechet_distance(fake, real)
    mean = float(np.mean(list(per_class.values()))) if per_class else float("nan")
    return per_class, mean


def kernel_distance(features_a, features_b, num_subsets=50, subset_size=1000, seed=0):
    """KID: unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over random subsets.

    Returns (mean, standard error of the mean over subsets).
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    n = min(subset_size, len(a), len(b))
    dim = a.shape[1]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(num_subsets):
        x, y = a[rng.choice(len(a), n, replace=False)], b[rng.choice(len(b), n, replace=False)]
        k_xx, k_yy = (x @ x.T / dim + 1) ** 3, (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        off_diagonal = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        estimates.append(off_diagonal - 2 * k_xy.mean())
    estimates = np.array(estimates)
    return float(estimates.mean()), float(estimates.std(ddof=1) / np.sqrt(len(estimates)))


def _squared_distances(x, y):
    return np.maximum((x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None, :], 0)


def _kth_neighbour_radii(points, k, rows_per_batch):
    """Squared distance of each point to its k-th nearest other point (itself excluded)."""
    radii = np.empty(len(points))
    for start in range(0, len(points), rows_per_batch):
        d = _squared_distances(points[start:start + rows_per_batch], points)
        # Column k of the sorted row: column 0 is the point itself, at distance 0.
        radii[start:start + rows_per_batch] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(manifold, radii, queries, rows_per_batch):
    """Share of `queries` inside at least one ball (manifold point, its k-NN radius)."""
    inside = 0
    for start in range(0, len(queries), rows_per_batch):
        d = _squared_distances(queries[start:start + rows_per_batch], manifold)
        inside += int(np.sum(np.any(d <= radii[None, :], axis=1)))
    return inside / len(queries)


def _subsample(real_features, fake_features, k, max_points, seed):
    """Both sets at the same size, at most `max_points` (seeded, order kept)."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    n = min(len(real), len(fake), max_points)
    if n <= k:
        raise ValueError(f"k-nearest-neighbour metrics with k={k} need more than {k} points "
                         f"per set, got {n}")
    rng = np.random.default_rng(seed)
    return (real[np.sort(rng.choice(len(real), n, replace=False))],
            fake[np.sort(rng.choice(len(fake), n, replace=False))])


def density_coverage(real_features, fake_features, k=5, max_points=10000, seed=0,
                     rows_per_batch=1000):
    """Density and coverage (Naeem et al. 2020, arXiv:2002.09797), k = 5 as in the paper.

    With a ball around each real point reaching its k-th nearest real neighbour: density is
    how many balls hold each generated point, over k, averaged (1 when the generated points
    are spread like the real ones; above 1 where they crowd dense regions; unlike precision
    it is not fooled by real outliers); coverage is the share of real balls holding at least
    one generated point (unlike recall it is not fooled by generated outliers).

    Returns:
      {"density": float, "coverage": float, "num_points": int}; NaN for both when a set has
      k points or fewer.
    """
    if min(len(real_features), len(fake_features)) <= k:
        return {"density": float("nan"), "coverage": float("nan"),
                "num_points": min(len(real_features), len(fake_features))}
    real, fake = _subsample(real_features, fake_features, k, max_points, seed)
    radii = _kth_neighbour_radii(real, k, rows_per_batch)
    balls_holding = np.zeros(len(fake))
    covered = np.zeros(len(real), bool)
    for start in range(0, len(fake), rows_per_batch):
        inside = _squared_distances(fake[start:start + rows_per_batch], real) <= radii[None, :]
        balls_holding[start:start + rows_per_batch] = inside.sum(1)
        covered |= inside.any(0)
    return {"density": float(balls_holding.sum() / (k * len(fake))),
            "coverage": float(covered.mean()), "num_points": len(real)}


def precision_recall(real_features, fake_features, k=3, max_points=10000, seed=0,
                     rows_per_batch=1000):
    """Improved precision and recall (Kynkäänniemi et al. 2019, arXiv:1904.06991).

    The real manifold is the union of balls around each real point reaching its k-th nearest
    real neighbour; precision is the share of generated points inside it (are the samples
    realistic?). Recall swaps the roles (does the generator cover the data? mode collapse
    lowers it). Both sets are subsampled to the same size, at most `max_points`, as in the
    paper, because the estimate depends on the set sizes.

    Returns:
      {"precision": float, "recall": float, "num_points": int}
    """
    real, fake = _subsample(real_features, fake_features, k, max_points, seed)
    real_radii = _kth_neighbour_radii(real, k, rows_per_batch)
    fake_radii = _kth_neighbour_radii(fake, k, rows_per_batch)
    return {"precision": _coverage(real, real_radii, fake, rows_per_batch),
            "recall": _coverage(fake, fake_radii, real, rows_per_batch),
            "num_points": len(real)}
