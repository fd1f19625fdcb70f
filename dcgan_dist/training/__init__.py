"""What one training step computes, from the config's objective and augment sections.

- `state`: the train state (models, optimizers, step, sample noise, EMA generator, ADA's p):
  everything a checkpoint holds; `build_state` makes it inside the strategy's scope.
- `step`: the per-replica GAN step and the multi-step tf.function around it (`METRICS`).
- `losses`: the objectives as g_/d_ pairs behind --loss, and the penalties (R1, WGAN-GP).
- `augment`: differentiable augmentation of what the discriminator sees (--augment, ADA).

It imports the core's `errors`, `runtime.streams` and the `models` wing.
"""
