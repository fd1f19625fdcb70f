"""Images from a generator, with noise from the run's streams: what dcgan-eval scores,
dcgan-generate writes, the export's `sample` reproduces, and periodic evaluation scores.

A conditional generator also takes each image's class: the ones asked for (dcgan-generate's
--labels and --per_class: `choose_labels`; the export), or for scoring `eval_labels`, every
class in turn, so each class gets the same number of images and none depends on a random draw.
"""

import math

import numpy as np
import tensorflow as tf

from dcgan_dist.runtime import streams
from dcgan_dist.errors import UserError

GENERATE_CHUNK = 500


def chunk_noise(seed, start, num_images, noise_dim, truncation=0.0):
    """The noise of images start..start+n-1: one draw keyed by the chunk's first index, so
    the images do not depend on how many are asked for at once (the export traces this).

    `truncation` > 0 draws every component from the normal truncated to [-t, t] (the
    "truncation trick" of BigGAN, Brock et al. 2019: variety traded for fidelity), as the
    inverse CDF of a uniform draw between the bounds' probabilities: exactly the normal
    resampled until within the bound, in one draw.
    """
    shape, key = tf.stack([num_images, noise_dim]), streams.keyed(seed, streams.EVAL_NOISE,
                                                                  start)
    if not truncation:
        return tf.random.stateless_normal(shape, seed=key)
    if truncation < 0:
        raise UserError(f"--truncation={truncation} must be positive (or 0 for none)")
    low = 0.5 * math.erfc(truncation / math.sqrt(2))  # the normal's mass below -t
    u = tf.random.stateless_uniform(shape, seed=key, minval=low, maxval=1 - low,
                                    dtype=tf.float64)
    return tf.cast(tf.clip_by_value(tf.math.ndtri(u), -truncation, truncation), tf.float32)


def eval_labels(num_images, num_classes):
    """The classes of images scored for a conditional run: 0, 1, ..., K-1, 0, 1, ... (None
    for an unconditional one)."""
    if not num_classes:
        return None
    return np.arange(num_images, dtype=np.int32) % num_classes


def _class_index(item, class_names):
    """One --labels entry: a class index or a class name -> its index."""
    if item in class_names:
        return class_names.index(item)
    if item.lstrip("-").isdigit() and 0 <= int(item) < len(class_names):
        return int(item)
    shown = ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else "")
    raise UserError(f"--labels={item} is not a class of this run: it has {len(class_names)} "
                    f"classes, 0-{len(class_names) - 1} ({shown})")


def choose_labels(labels, per_class, num_images, class_names):
    """The class of every image to generate (int32 [N]), from --labels, --per_class and
    --num_images; None for an unconditional run, which takes neither flag."""
    if not class_names:
        if labels or per_class:
            flag = "--labels" if labels else "--per_class"
            raise UserError(f"{flag} needs a --conditional run; this run was trained without "
                            "classes")
        return None
    if per_class < 0:
        raise UserError(f"--per_class={per_class} must not be negative")
    items = [item.strip() for item in labels.split(",")] if labels else []
    classes = ([_class_index(item, class_names) for item in items] if items
               else list(range(len(class_names))))
    if per_class:
        return np.repeat(np.array(classes, np.int32), per_class)
    return np.array(classes, np.int32)[np.arange(num_images) % len(classes)]


def generate(generator, num_images, noise_dim, seed=0, images_per_call=GENERATE_CHUNK,
             labels=None, truncation=0.0, discriminator=None, reject=0.0):
    """num_images samples in [-1, 1], float32, from fixed, seeded noise, in chunks; image i
    of class labels[i] when the generator is conditional.

    `reject` > 0 (a share in [0, 1), with the run's `discriminator`): discriminator rejection
    (Azadi et al. 2019, "Discriminator Rejection Sampling", in its simplest form): draws
    num_images / (1 - reject) and keeps the num_images the discriminator rates most real,
    in the order drawn (of a conditional run, the best of each class asked for).
    """
    if reject:
        return _generate_rejecting(generator, discriminator, reject, num_images, noise_dim,
                                   seed, images_per_call, labels, truncation)
    out = []
    for start in range(0, num_images, images_per_call):
        n = min(images_per_call, num_images - start)
        z = chunk_noise(seed, start, n, noise_dim, truncation)
        inputs = z if labels is None else [z, tf.constant(labels[start:start + n], tf.int32)]
        out.append(np.asarray(generator(inputs, training=False), np.float32))
    return np.concatenate(out)


def make_generate_fn(strategy, generator, noise_dim, per_replica_images, seed, num_classes=0):
    """`fn(num_images) -> images`: every replica generates `per_replica_images` a chunk (noise
    keyed by chunk and replica), gathered across replicas and workers. Generation runs where
    the variables live (a TPU's, a worker's), not eagerly on the host. A conditional
    generator draws image i as class `eval_labels(...)[i]`.

    Under multi-worker every worker must call it: the gather is a collective.
    """
    num_replicas = strategy.num_replicas_in_sync

    def replica_fn(chunk):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        key = streams.keyed(seed, streams.PERIODIC_EVAL_NOISE, chunk, replica)
        z = tf.random.stateless_normal([per_replica_images, noise_dim], seed=key)
        if num_classes:  # the global index of each image, as eval_labels counts them
            first = (tf.cast(chunk, tf.int32) * num_replicas + replica) * per_replica_images
            z = [z, (first + tf.range(per_replica_images)) % num_classes]
        return tf.cast(generator(z, training=False), tf.float32)

    @tf.function(autograph=False)  # no control flow: nothing for AutoGraph to convert
    def generate_chunk(chunk):
        return strategy.gather(strategy.run(replica_fn, args=(chunk,)), axis=0)

    def fn(num_images):
        chunks = -(-num_images // (per_replica_images * num_replicas))
        images = [generate_chunk(tf.constant(c, tf.int64)).numpy() for c in range(chunks)]
        return np.concatenate(images)[:num_images]

    return fn


def _generate_rejecting(generator, discriminator, reject, num_images, noise_dim, seed,
                        images_per_call, labels, truncation):
    if not 0 <= reject < 1:
        raise UserError(f"--reject={reject} must be in [0, 1): the share of the draws the "
                        "discriminator turns away (0.2 keeps the best 4 of every 5)")
    num_drawn = drawn_for(num_images, reject)
    # The classes asked for, cycled: each drawn at least as often as it is kept.
    drawn_labels = None if labels is None else np.resize(labels, num_drawn)
    images = generate(generator, num_drawn, noise_dim, seed, images_per_call, drawn_labels,
                      truncation)

    def rate(start):  # the discriminator's logits of one chunk of the drawn images
        inputs = [images[start:start + images_per_call]]
        if labels is not None:
            inputs.append(drawn_labels[start:start + images_per_call])
        return np.asarray(discriminator(*inputs, training=False), np.float32).reshape(-1)

    logits = np.concatenate([rate(i) for i in range(0, num_drawn, images_per_call)])
    return images[keep_best(logits, num_images, drawn_labels, labels)]


def drawn_for(num_images, reject):
    """How many images --reject=`reject` draws to keep num_images."""
    return math.ceil(num_images / (1 - reject))


def keep_best(logits, num_images, drawn_labels=None, labels=None):
    """Indices of the drawn images to keep: the num_images with the highest logits, in the
    order drawn; with labels, position i gets the next best-kept image of class labels[i]."""
    if labels is None:
        return np.sort(np.argsort(-logits, kind="stable")[:num_images])
    kept = np.empty(len(labels), np.int64)
    for label in np.unique(labels):
        drawn = np.flatnonzero(drawn_labels == label)
        wanted = labels == label
        kept[wanted] = np.sort(drawn[np.argsort(-logits[drawn], kind="stable")[:wanted.sum()]])
    return kept
