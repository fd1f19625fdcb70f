"""The per-replica GAN step and the multi-step tf.function around it.

The replica step has no Python side effects and no stateful randomness: the noise for
global example i at step s is row i of a stateless draw keyed by (seed, s), so the result
does not depend on how the global batch is split over replicas, and dropout masks are keyed
by (seed, s, replica). With --conditional, real images come with their labels and the class
of generated example i is element i of a uniform draw keyed like the noise.
"""

import tensorflow as tf

from dcgan_dist import augment, losses, state as state_lib, streams


def replica_noise(seed, step, global_batch_size, noise_dim, replica_id, per_replica_batch_size):
    """This replica's rows of the step's global noise matrix."""
    z = tf.random.stateless_normal([global_batch_size, noise_dim],
                                   seed=streams.keyed(seed, streams.NOISE, step), alg="philox")
    return tf.slice(z, [replica_id * per_replica_batch_size, 0], [per_replica_batch_size, noise_dim])


def replica_labels(seed, step, global_batch_size, num_classes, replica_id,
                   per_replica_batch_size):
    """This replica's slice of the step's generated classes: uniform over num_classes."""
    labels = tf.random.stateless_uniform(
        [global_batch_size], seed=streams.keyed(seed, streams.FAKE_LABELS, step), minval=0,
        maxval=num_classes, dtype=tf.int32, alg="philox")
    return tf.slice(labels, [replica_id * per_replica_batch_size], [per_replica_batch_size])


def _all_finite(tensors):
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])


def make_replica_step(state, config, per_replica_batch_size):
    """Returns `replica_step(batch, step) -> dict of per-replica scalars`; batch is the
    real images, or (images, labels) when `state.num_classes` (--conditional)."""
    generator, discriminator = state.generator, state.discriminator
    g_opt, d_opt = state.g_opt, state.d_opt
    global_batch_size = config.global_batch_size
    augment_p_fn = augment.AUGMENTS[config.augment]
    transforms = augment.parse_policy(config.augment_policy) if augment_p_fn else []

    def g(z, labels):  # labels None: unconditional (models' contract)
        return generator(z if labels is None else [z, labels], training=True)

    def d(images, labels, seed, uniforms, p):
        """The discriminator's logits on what it sees: the images, augmented when --augment
        is on. Augmentation moves pixels, never the batch's order, so a conditional
        discriminator reads each image with its own label, which nothing augments."""
        if transforms:
            images = augment.apply(images, uniforms, transforms, p)
        labels = () if labels is None else (labels,)
        return discriminator(images, *labels, training=True, dropout_seed=seed)

    def d_real_logits_and_penalty(real_images, real_labels, real_seed, real_uniforms, p):
        if not config.d_r1_gamma:
            return d(real_images, real_labels, real_seed, real_uniforms, p), 0.0
        # Called under d_tape, which then differentiates the penalty's input gradient. The
        # gradient is taken with respect to the images before augmentation, as StyleGAN2-ADA
        # does: the penalty keeps D smooth on the data, wherever the transforms move it.
        with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
            r1_tape.watch(real_images)
            d_real_logits = d(real_images, real_labels, real_seed, real_uniforms, p)
        return d_real_logits, losses.d_r1_penalty_per_example(
            r1_tape.gradient(d_real_logits, real_images), config.d_r1_gamma)

    def losses_and_grads(real_images, z, real_seed, fake_seed, real_uniforms, fake_uniforms, p,
                         real_labels=None, fake_labels=None):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = g(z, fake_labels)
            d_real_logits, d_penalty = d_real_logits_and_penalty(
                real_images, real_labels, real_seed, real_uniforms, p)
            # The same transforms on generated images, differentiably: G learns through them.
            d_fake_logits = d(fake_images, fake_labels, fake_seed, fake_uniforms, p)
            # Divide by the global batch: the all-reduce sums the replicas' gradients.
            g_loss = tf.nn.compute_average_loss(
                losses.g_loss_per_example(d_fake_logits), global_batch_size=global_batch_size)
            d_loss = tf.nn.compute_average_loss(
                losses.d_loss_per_example(d_real_logits, d_fake_logits) + d_penalty,
                global_batch_size=global_batch_size)
            g_scaled, d_scaled = g_loss, d_loss
            if state.loss_scaling:
                g_scaled, d_scaled = g_opt.scale_loss(g_loss), d_opt.scale_loss(d_loss)
        g_grads = g_tape.gradient(g_scaled, generator.trainable_variables)
        d_grads = d_tape.gradient(d_scaled, discriminator.trainable_variables)
        # ADA's overfitting statistic: the sum of sign(D(real)) over this replica's images.
        real_signs = tf.reduce_sum(tf.sign(tf.cast(d_real_logits, tf.float32)))
        return g_loss, d_loss, g_grads, d_grads, real_signs

    if config.jit_compile:
        # XLA compiles only the forward/backward pass: apply_gradients touches variables on
        # every device and the iterator's GetNext cannot be compiled.
        losses_and_grads = tf.function(losses_and_grads, jit_compile=True)

    def replica_step(batch, step):
        ctx = tf.distribute.get_replica_context()
        replica_id = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
        z = replica_noise(config.seed, step, global_batch_size, config.noise_dim, replica_id,
                          per_replica_batch_size)
        labels = {}  # conditional: the real images' labels, and the generated images' classes
        if state.num_classes:
            batch, labels["real_labels"] = batch
            labels["fake_labels"] = replica_labels(config.seed, step, global_batch_size,
                                                   state.num_classes, replica_id,
                                                   per_replica_batch_size)
        # Drawn here, outside XLA: its kernels draw other numbers from the same seed.
        real_uniforms, fake_uniforms = (
            augment.draw(config.seed, stream, step, global_batch_size, replica_id,
                         per_replica_batch_size)
            for stream in (streams.AUGMENT_REAL, streams.AUGMENT_FAKE))
        p = augment_p_fn(state) if augment_p_fn else tf.constant(0.0)
        g_loss, d_loss, g_grads, d_grads, real_signs = losses_and_grads(
            batch, z, streams.keyed(config.seed, streams.DROPOUT_REAL, step, replica_id),
            streams.keyed(config.seed, streams.DROPOUT_FAKE, step, replica_id),
            real_uniforms, fake_uniforms, p, **labels)
        skipped_steps = tf.constant(0.0)
        if state.loss_scaling:
            # Keras' LossScaleOptimizer checks only this replica's gradients before the
            # all-reduce: an overflow on one replica would let the others apply NaNs (or
            # deadlock multi-worker). Agree on the verdict, and poison every replica's
            # gradients so all of them skip the step together.
            local_overflow = 1.0 - tf.cast(_all_finite(g_grads + d_grads), tf.float32)
            skipped_steps = tf.minimum(
                ctx.all_reduce(tf.distribute.ReduceOp.SUM, local_overflow), 1.0)
            poison = tf.where(skipped_steps > 0, float("nan"), 0.0)
            g_grads = [grad + tf.cast(poison, grad.dtype) for grad in g_grads]
            d_grads = [grad + tf.cast(poison, grad.dtype) for grad in d_grads]
        g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
        d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        return {"g_loss": g_loss, "d_loss": d_loss, "skipped_steps": skipped_steps,
                "real_signs": real_signs}

    return replica_step


def rate_scale(step, total_steps, decay_fraction):
    """1 until the last `decay_fraction` of `total_steps`, then linearly down to 0 at the end.

    CycleGAN and pix2pix anneal their runs the same way. Measured here, decay alone did not
    lift the old fast config's plateau (benchmarks/RESULTS_quality.md); mnist_fast.cfg keeps
    it because it costs nothing.
    """
    if not decay_fraction:
        return tf.constant(1.0)
    remaining = tf.cast(total_steps, tf.float32) - tf.cast(step, tf.float32)
    return tf.clip_by_value(remaining / max(1.0, decay_fraction * total_steps), 0.0, 1.0)


def make_train_fn(strategy, state, config, per_replica_batch_size, total_steps=0):
    """Returns `train_fn(iterator, num_steps)`: runs num_steps steps in one tf.function.

    Returns the losses averaged over those steps (each a global-batch mean, reduced over
    replicas), the number of steps skipped for loss-scale overflow, and the sum of
    sign(D(real)) over every real image (`real_signs`) with `augment_p` after the last step
    (--augment=ada updates p here, in cross-replica context). Each step first sets
    both learning rates from the flags and the step (`total_steps` places the decay), so
    a resumed run follows the same schedule and a changed --g_lr or --d_lr takes effect.
    """
    replica_step = make_replica_step(state, config, per_replica_batch_size)
    augment_p_fn = augment.AUGMENTS[config.augment]
    replica_sum = tf.distribute.ReduceOp.SUM
    if config.lr_decay_fraction and not total_steps:
        raise ValueError("--lr_decay_fraction needs make_train_fn(..., total_steps=...)")

    @tf.function
    def train_fn(iterator, num_steps):
        totals = {"g_loss": tf.constant(0.0), "d_loss": tf.constant(0.0),
                  "skipped_steps": tf.constant(0.0), "real_signs": tf.constant(0.0)}
        for _ in tf.range(num_steps):
            # Assigned through the optimizers' own rate variables: a schedule object would
            # change what a checkpoint holds, and restoring across that mis-assigns slots.
            scale = rate_scale(state.step, total_steps, config.lr_decay_fraction)
            state.g_opt.learning_rate = config.g_lr * scale
            state.d_opt.learning_rate = config.d_lr * scale
            out = strategy.run(replica_step, args=(next(iterator), state.step.read_value()))
            real_signs = strategy.reduce(replica_sum, out["real_signs"], None)
            if state.ada is not None:  # all-reduced: every replica and worker moves p alike
                state.ada.update(state.step, real_signs)
            # Each replica's loss is already divided by the global batch: summing them
            # gives the global mean. `skipped_steps` is the same on every replica.
            totals = {
                "g_loss": totals["g_loss"] + strategy.reduce(replica_sum, out["g_loss"], None),
                "d_loss": totals["d_loss"] + strategy.reduce(replica_sum, out["d_loss"], None),
                "skipped_steps": totals["skipped_steps"] + strategy.reduce(
                    tf.distribute.ReduceOp.MEAN, out["skipped_steps"], None),
                "real_signs": totals["real_signs"] + real_signs,
            }
            if state.g_ema is not None:
                state_lib.update_ema(state.g_ema, state.generator,
                                     state_lib.ema_decay(config.g_ema_decay, state.step))
            state.step.assign_add(1)
        steps = tf.cast(num_steps, tf.float32)
        return {"g_loss": totals["g_loss"] / steps, "d_loss": totals["d_loss"] / steps,
                "skipped_steps": totals["skipped_steps"], "real_signs": totals["real_signs"],
                "augment_p": (state.ada.p.read_value() if state.ada is not None else
                              tf.constant(1.0 if augment_p_fn else 0.0))}

    return train_fn
