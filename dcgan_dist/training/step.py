"""The per-replica GAN step and the multi-step tf.function around it.

The replica step has no Python side effects and no stateful randomness: the noise for
global example i at step s is row i of a stateless draw keyed by (seed, s), so the result
does not depend on how the global batch is split over replicas, and dropout masks are keyed
by (seed, s, replica). With --conditional, real images come with their labels and the class
of generated example i is element i of a uniform draw keyed like the noise. The gradient
penalty's interpolation weights are keyed like the noise. The objective is
`losses.LOSSES[objective.loss]`; R1, lazy R1 and the gradient penalty are added to the
discriminator's per-example loss. With --augment, every batch the discriminator sees is
augmented, and the penalties' input gradients are taken before augmentation.
"""

import tensorflow as tf

from dcgan_dist.runtime import streams
from dcgan_dist.models import layers as model_layers
from dcgan_dist.training import augment, losses, state as state_lib

# What one step reports, per replica and summed over an execution: the losses (each a
# global-batch mean), the steps skipped for loss-scale overflow, and ADA's sum of sign(D(real)).
METRICS = ("g_loss", "d_loss", "skipped_steps", "real_signs")


def replica_noise(seed, step, global_batch_size, noise_dim, replica_id, per_replica_batch_size):
    """This replica's rows of the step's global noise matrix."""
    z = tf.raw_ops.StatelessRandomNormalV2(
        shape=[global_batch_size, noise_dim], dtype=tf.float32,
        **streams.philox(streams.keyed(seed, streams.NOISE, step)))
    return tf.slice(z, [replica_id * per_replica_batch_size, 0], [per_replica_batch_size, noise_dim])


def replica_labels(seed, step, global_batch_size, num_classes, replica_id,
                   per_replica_batch_size):
    """This replica's slice of the step's generated classes: uniform over num_classes."""
    labels = tf.raw_ops.StatelessRandomUniformIntV2(
        shape=[global_batch_size], minval=tf.constant(0), maxval=tf.constant(num_classes),
        **streams.philox(streams.keyed(seed, streams.FAKE_LABELS, step)))
    return tf.slice(labels, [replica_id * per_replica_batch_size], [per_replica_batch_size])


def replica_gp_eps(seed, step, global_batch_size, replica_id, per_replica_batch_size):
    """This replica's interpolation weights eps ~ U[0, 1) for --d_gp_gamma, one per example:
    entries of one draw for the global batch, so they do not depend on the split."""
    eps = tf.raw_ops.StatelessRandomUniformV2(
        shape=[global_batch_size], dtype=tf.float32,
        **streams.philox(streams.keyed(seed, streams.GP_INTERPOLATION, step)))
    return tf.slice(eps, [replica_id * per_replica_batch_size], [per_replica_batch_size])


def _all_finite(tensors):
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])


def make_replica_step(state, objective, augment_config, per_replica_batch_size, r1_gamma):
    """Returns `replica_step(batch, step) -> {METRICS: per-replica scalars}`, with the R1
    penalty at `r1_gamma` (0 = none); batch is the real images, or (images, labels) when
    `state.num_classes` (--conditional). `objective` and `augment_config` are the config's
    sections of those names."""
    generator, discriminator = state.generator, state.discriminator
    g_opt, d_opt = state.g_opt, state.d_opt
    global_batch_size, seed = objective.global_batch_size, objective.seed
    loss = losses.LOSSES[objective.loss]
    augment_p_fn = augment.AUGMENTS[augment_config.augment]
    transforms = augment.parse_policy(augment_config.augment_policy) if augment_p_fn else []

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

    def logits_and_input_grads(images, labels, dropout_seed, uniforms, p):
        """D's logits of the (augmented) images and their gradient with respect to `images`
        before augmentation (each image's own). Called under d_tape, which then
        differentiates the penalty built on that gradient."""
        with tf.GradientTape(watch_accessed_variables=False) as input_tape:
            input_tape.watch(images)
            logits = d(images, labels, dropout_seed, uniforms, p)
        return logits, input_tape.gradient(logits, images)

    # Both penalties take their gradient with respect to the images before augmentation, as
    # StyleGAN2-ADA does for R1: they keep D smooth on the data (R1) and between the data and
    # the generator's images (the gradient penalty), wherever the transforms move them; the
    # discriminator they differentiate is the one the losses train, D after the transforms.
    # So the interpolates are of un-augmented real and generated images, then augmented by
    # their own draw (streams.AUGMENT_INTERPOLATES) like every other batch D sees. A
    # conditional discriminator reads the interpolates with the real images' labels.
    def d_real_logits_and_penalty(real_images, real_labels, real_seed, real_uniforms, p,
                                  r1_gamma):
        if not r1_gamma:
            return d(real_images, real_labels, real_seed, real_uniforms, p), 0.0
        d_real_logits, grads = logits_and_input_grads(real_images, real_labels, real_seed,
                                                      real_uniforms, p)
        return d_real_logits, losses.d_r1_penalty_per_example(grads, r1_gamma)

    def losses_and_grads(real_images, z, real_seed, fake_seed, real_uniforms, fake_uniforms, p,
                         gp_eps, gp_seed, gp_uniforms, r1_gamma, real_labels=None,
                         fake_labels=None):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = g(z, fake_labels)
            d_real_logits, d_penalty = d_real_logits_and_penalty(
                real_images, real_labels, real_seed, real_uniforms, p, r1_gamma)
            # The same transforms on generated images, differentiably: G learns through them.
            d_fake_logits = d(fake_images, fake_labels, fake_seed, fake_uniforms, p)
            if objective.d_gp_gamma:
                interpolates = losses.interpolate(real_images, tf.stop_gradient(fake_images),
                                                  gp_eps)
                d_penalty += losses.d_gp_penalty_per_example(
                    logits_and_input_grads(interpolates, real_labels, gp_seed, gp_uniforms,
                                           p)[1],
                    objective.d_gp_gamma)
            # Divide by the global batch: the all-reduce sums the replicas' gradients.
            g_loss = tf.nn.compute_average_loss(
                loss.g(d_fake_logits), global_batch_size=global_batch_size)
            d_loss = tf.nn.compute_average_loss(
                loss.d(d_real_logits, d_fake_logits) + d_penalty,
                global_batch_size=global_batch_size)
            g_scaled, d_scaled = g_loss, d_loss
            if state.loss_scaling:
                g_scaled, d_scaled = g_opt.scale_loss(g_loss), d_opt.scale_loss(d_loss)
        g_grads = g_tape.gradient(g_scaled, generator.trainable_variables)
        d_grads = d_tape.gradient(d_scaled, discriminator.trainable_variables)
        # ADA's overfitting statistic: the sum of sign(D(real)) over this replica's images.
        real_signs = tf.reduce_sum(tf.sign(tf.cast(d_real_logits, tf.float32)))
        return g_loss, d_loss, g_grads, d_grads, real_signs

    if objective.jit_compile:
        # XLA compiles only the forward/backward pass: apply_gradients touches variables on
        # every device and the iterator's GetNext cannot be compiled.
        losses_and_grads = tf.function(losses_and_grads, jit_compile=True, autograph=False)

    def replica_step(batch, step):
        ctx = tf.distribute.get_replica_context()
        replica_id = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
        z = replica_noise(seed, step, global_batch_size, objective.noise_dim, replica_id,
                          per_replica_batch_size)
        labels = {}  # conditional: the real images' labels, and the generated images' classes
        if state.num_classes:
            batch, labels["real_labels"] = batch
            labels["fake_labels"] = replica_labels(seed, step, global_batch_size,
                                                   state.num_classes, replica_id,
                                                   per_replica_batch_size)
        # Drawn here, outside XLA: its kernels draw other numbers from the same seed.
        real_uniforms, fake_uniforms, gp_uniforms = (
            augment.draw(seed, stream, step, global_batch_size, replica_id,
                         per_replica_batch_size)
            for stream in (streams.AUGMENT_REAL, streams.AUGMENT_FAKE,
                           streams.AUGMENT_INTERPOLATES))
        p = augment_p_fn(state) if augment_p_fn else tf.constant(0.0)
        gp_eps = (replica_gp_eps(seed, step, global_batch_size, replica_id,
                                 per_replica_batch_size) if objective.d_gp_gamma else None)
        g_loss, d_loss, g_grads, d_grads, real_signs = losses_and_grads(
            batch, z, streams.keyed(seed, streams.DROPOUT_REAL, step, replica_id),
            streams.keyed(seed, streams.DROPOUT_FAKE, step, replica_id),
            real_uniforms, fake_uniforms, p, gp_eps,
            streams.keyed(seed, streams.DROPOUT_INTERPOLATES, step, replica_id),
            gp_uniforms, r1_gamma, **labels)
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
        return dict(zip(METRICS, (g_loss, d_loss, skipped_steps, real_signs)))

    return replica_step


def rate_scale(step, total_steps, decay_fraction):
    """1 until the last `decay_fraction` of `total_steps`, then linearly down to 0 at the end.

    CycleGAN and pix2pix anneal their runs the same way. Measured here, decay alone did not
    lift the old fast config's plateau (benchmarks/RESULTS_quality.md); mnist_fast.cfg keeps
    it because it costs nothing.
    """
    if not decay_fraction:
        return tf.constant(1.0)
    total_steps = tf.cast(total_steps, tf.float32)
    remaining = total_steps - tf.cast(step, tf.float32)
    return tf.clip_by_value(remaining / tf.maximum(1.0, decay_fraction * total_steps), 0.0, 1.0)


def make_train_fn(strategy, state, objective, augment_config, per_replica_batch_size):
    """Returns `train_fn(iterator, num_steps, total_steps)`: runs num_steps steps of a run of
    total_steps in one tf.function, with the config's `objective` and `augment_config` sections.

    Returns the losses averaged over those steps (each a global-batch mean, reduced over
    replicas), the number of steps skipped for loss-scale overflow, and the sum of
    sign(D(real)) over every real image (`real_signs`) with `augment_p` after the last step
    (--augment=ada updates p here, in cross-replica context). Each step first sets
    both learning rates from the flags and the step (`total_steps` places the decay: a
    tensor, so a run fitted to --train_minutes moves it without a retrace), so a resumed run
    follows the same schedule and a changed --g_lr or --d_lr takes effect.
    """
    # Lazy R1 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
    # section 4): the penalty, weighted by N, on the steps divisible by N only; the other
    # steps skip its second-order gradient. StyleGAN2 takes it as a separate minibatch and
    # optimizer step, hence its Adam correction N / (N + 1); here it joins that step's loss,
    # the number of updates is unchanged, and there is nothing to correct. The choice is made
    # around strategy.run, not inside the replica step: MirroredStrategy cannot all-reduce
    # (synchronized batch norm) inside a conditional there.
    r1_every = objective.r1_every_steps if objective.d_r1_gamma else 1
    replica_steps = [make_replica_step(state, objective, augment_config, per_replica_batch_size,
                                       objective.d_r1_gamma * r1_every)]
    if r1_every > 1:
        replica_steps.append(make_replica_step(state, objective, augment_config,
                                               per_replica_batch_size, 0.0))
    augment_p_fn = augment.AUGMENTS[augment_config.augment]

    def run_step(replica_step, images, step):
        out = strategy.run(replica_step, args=(images, step))
        # Each replica's loss is already divided by the global batch: summing them gives the
        # global mean. `skipped_steps` is the same on every replica.
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN if name == "skipped_steps"
                                      else tf.distribute.ReduceOp.SUM, value, None)
                for name, value in out.items()}

    def one_step(iterator, totals, total_steps):
        # Assigned through the optimizers' own rate variables: a schedule object would
        # change what a checkpoint holds, and restoring across that mis-assigns slots.
        scale = rate_scale(state.step, total_steps, objective.lr_decay_fraction)
        state.g_opt.learning_rate = objective.g_lr * scale
        state.d_opt.learning_rate = objective.d_lr * scale
        images, step = next(iterator), state.step.read_value()
        if len(replica_steps) == 1:
            out = run_step(replica_steps[0], images, step)
        else:  # lazy R1
            out = tf.cond(step % r1_every == 0,
                          lambda: run_step(replica_steps[0], images, step),
                          lambda: run_step(replica_steps[1], images, step))
        if state.ada is not None:  # all-reduced: every replica and worker moves p alike
            state.ada.update(state.step, out["real_signs"])
        if state.g_ema is not None:
            state_lib.update_ema(state.g_ema, state.generator,
                                 state_lib.ema_decay(objective.g_ema_decay, state.step))
        # --d_spectral_norm: the same u on every replica, from the new kernels (no layers, no op).
        model_layers.update_spectral_norms(state.discriminator)
        state.step.assign_add(1)
        return {name: totals[name] + out[name] for name in totals}

    # Without AutoGraph: nothing in the step branches on a tensor in Python (the loop and
    # lazy R1's choice are written as tf.while_loop and tf.cond), and tracing without its
    # source conversion starts every run ~1.5 s sooner (measured on a 2-core CPU).
    @tf.function(autograph=False)
    def train_fn(iterator, num_steps, total_steps):
        totals = {name: tf.constant(0.0) for name in METRICS}
        num_steps = tf.cast(num_steps, tf.int32)  # a tensor of any integer type, or an int
        _, totals = tf.while_loop(lambda i, _: i < num_steps,
                                  lambda i, totals: (i + 1, one_step(iterator, totals,
                                                                     total_steps)),
                                  (tf.constant(0), totals))
        steps = tf.cast(num_steps, tf.float32)
        return {**totals, "g_loss": totals["g_loss"] / steps, "d_loss": totals["d_loss"] / steps,
                "augment_p": (state.ada.p.read_value() if state.ada is not None else
                              tf.constant(1.0 if augment_p_fn else 0.0))}

    return train_fn
