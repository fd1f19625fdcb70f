"""One measured process of benchmarks/throughput.py: builds one variant, warms it up, then times
it each time the orchestrator writes `run` on stdin, answering with a `BENCH {json}` line.

Each variant lives in its own process so that process-wide settings (a CPU split into logical
devices, one core and one thread for the scaling workers, TF_CONFIG) touch only that variant,
and so that all variants can stay built while the orchestrator alternates between them.
"""

import contextlib
import json
import os
import sys
import tempfile
import time

MATMUL_SIZE = 2048
_HELD = contextlib.ExitStack()  # the built run of a "package" worker, for the process's life


def emit(message):
    """The protocol line; anything else a library prints to stdout is ignored by the reader."""
    print("BENCH " + json.dumps(message), flush=True)


def load_mnist_float(spec):
    """The tutorial's train_images: float32 in [-1, 1], shape (60000, 28, 28, 1)."""
    import numpy as np
    if spec["synthetic_data"]:
        return np.random.default_rng(0).uniform(-1, 1, (60000, 28, 28, 1)).astype("float32")
    import tensorflow_datasets as tfds
    if not tfds.builder("mnist", data_dir=spec["data_dir"]).is_prepared():
        sys.exit(f"no MNIST in {spec['data_dir']}; run: .venv/bin/dcgan-data prepare mnist "
                 f"--data_dir={spec['data_dir']}")
    images = tfds.as_numpy(tfds.load("mnist", split="train", data_dir=spec["data_dir"],
                                     batch_size=-1, download=False))["image"]
    return (images.astype("float32") - 127.5) / 127.5


def build_tutorial_discriminator():
    """The tutorial's make_discriminator_model(), Keras dropout and all."""
    import tensorflow as tf
    layers = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input(shape=(28, 28, 1)),  # the tutorial's input_shape=, in Keras 3 spelling
        layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
        layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
        layers.LeakyReLU(),
        layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dense(1),
    ])


def setup_tutorial(spec):
    """Variant (a): the tutorial's loop as it is written, returns `run(num_steps) -> images`.

    Wired by hand on purpose, not with build.build_run: it is the baseline every other row is
    divided by, so it keeps the tutorial's own pipeline, models, losses and eager loop."""
    import tensorflow as tf
    from dcgan_dist.models.tutorial import build_generator  # layer for layer the tutorial's
    BUFFER_SIZE, BATCH_SIZE, noise_dim = 60000, 256, 100
    train_images = load_mnist_float(spec)
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE).batch(
        BATCH_SIZE)
    generator = build_generator(noise_dim, (28, 28, 1), False, 256)
    discriminator = build_tutorial_discriminator()
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([BATCH_SIZE, noise_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss,
                                                        discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator,
                                                generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator,
                                                    discriminator.trainable_variables))

    def epochs():
        while True:  # the tutorial's `for epoch in range(epochs): for image_batch in dataset:`
            yield from train_dataset

    batches = epochs()

    def run(num_steps):
        images = 0
        for _ in range(num_steps):
            image_batch = next(batches)
            train_step(image_batch)
            # Count what was fed: the last batch of an epoch has 96 images (not reached at
            # the default step counts: an epoch is 235 steps).
            images += int(image_batch.shape[0])
        int(generator_optimizer.iterations)  # a read after the last step: nothing is pending
        return images

    return run, {}


def setup_package(spec):
    """Variants (b)-(g) and the scaling workers: dcgan-dist's own run, built as dcgan-train
    builds it (build.build_run), without its outer loop: only the step function is timed."""
    import tensorflow as tf
    if spec.get("one_thread"):
        # Before any op: afterwards TensorFlow's thread pools exist and these calls fail.
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from dcgan_dist import build
    from dcgan_dist.config import Config
    # build_run holds the work directory and writes a run's first files there (flags.txt,
    # run.json, reals.png): throughput.measure gives one temporary directory per group, which
    # the workers of a multi-worker group share as a multi-worker run does.
    workdir = spec.get("workdir") or tempfile.mkdtemp(prefix="dcgan-throughput-")
    overrides = {"precision": "float32", **spec["overrides"]}  # the bf16 rows override it
    config = Config.of(
        workdir=workdir, data_dir=spec["data_dir"], global_batch_size=spec["global_batch_size"],
        synthetic_data=spec["synthetic_data"],
        # The orchestrator says when to stop, never the schedule; with the default
        # --lr_decay_fraction=0 the total changes no step.
        train_steps=10**9, **overrides)
    # build_run's first TensorFlow op (the placement) may split the CPU into devices or join
    # the TF_CONFIG cluster. The run stays held until the process exits (serve's os._exit).
    run = _HELD.enter_context(build.build_run(config))
    spe = config.schedule.steps_per_execution

    def run_steps(num_steps):
        # Executions of steps_per_execution steps, not loop.drive's: no logs, grids or
        # checkpoints between them, whose boundaries would cut the executions shorter.
        done = 0
        while done < num_steps:
            n = min(spe, num_steps - done)
            # As the outer loop does: one call per execution, a float() of its loss to sync.
            float(run.train_fn(run.iterator, tf.constant(n, tf.int32),
                                       tf.constant(run.schedule.total_steps))["g_loss"])
            done += n
        return done * config.data.global_batch_size

    image_shape = tuple(run.state.generator.outputs[0].shape[1:])
    flops = (dcgan_flops(run.state, image_shape) if config.model.architecture == "dcgan"
             else {})
    return run_steps, {"replicas": run.placement.replicas,
                       "strategy": run.placement.describe(), **flops}


def layer_macs(layer):
    """Multiply-adds of one layer's forward pass for one image; 0 for elementwise layers."""
    import keras
    if isinstance(layer, keras.layers.Conv2DTranspose):
        # Every input pixel scatters a k x k x c_out patch per input channel.
        height, width, c_in = layer.input.shape[1:]
        return height * width * layer.kernel_size[0] * layer.kernel_size[1] * c_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        # Every output pixel gathers a k x k x c_in patch per output channel.
        height, width, c_out = layer.output.shape[1:]
        c_in = layer.input.shape[-1]
        return height * width * layer.kernel_size[0] * layer.kernel_size[1] * c_in * c_out
    if isinstance(layer, keras.layers.Dense):
        return layer.input.shape[-1] * layer.units
    return 0


def count_flops(generator=None, discriminator_layers=None):
    """Training FLOPs per image from the models' layer shapes (throughput_report explains it).

    Defaults to the tutorial's models; the tutorial's discriminator stands in for
    dcgan-dist's: the same layers, and a Sequential model knows each layer's input and output
    shapes. `discriminator_layers` is a Sequential with the discriminator's layers for others.
    """
    if generator is None:
        from dcgan_dist.models.tutorial import build_generator
        generator = build_generator(100, (28, 28, 1), False, 256)
        discriminator_layers = build_tutorial_discriminator()
    g_macs = [m for m in map(layer_macs, generator.layers) if m]
    d_macs = [m for m in map(layer_macs, discriminator_layers.layers) if m]
    g_fwd, d_fwd = sum(g_macs), sum(d_macs)
    forward = g_fwd + 2 * d_fwd  # G once; D on the real and on the generated images
    # Backward of a layer: input gradient + weight gradient, each about its forward cost.
    backward = (
        2 * g_fwd - g_macs[0]        # G for g_loss; no gradient into the noise
        + 2 * (2 * d_fwd - d_macs[0])  # D(real), D(fake) for d_loss; none into the images
        + d_fwd)                     # D(fake) for g_loss: input gradients only, down into G
    return {"g_fwd_flops": 2 * g_fwd, "d_fwd_flops": 2 * d_fwd, "fwd_flops": 2 * forward,
            "bwd_flops": 2 * backward, "g_first_flops": 2 * g_macs[0],
            "d_first_flops": 2 * d_macs[0]}


def dcgan_flops(state, image_shape):
    """count_flops for --architecture=dcgan: its discriminator's convs and logit layer,
    copied into a Sequential so that each layer knows its shapes."""
    import keras
    d = state.discriminator
    layers = [type(layer).from_config(layer.get_config()) for layer in d.convs]
    stand_in = keras.Sequential([keras.Input(shape=image_shape), *layers, keras.layers.Flatten(),
                                 keras.layers.Dense(1)])
    return count_flops(state.generator, stand_in)


def setup_matmul(spec):
    """The machine's matmul rate in spec["dtype"] (float32 or bfloat16), the yardstick for
    'fraction of the limit' of the rows computed in that precision."""
    if spec.get("library") == "numpy":  # benchmarks/peer.py's limit: every library's GEMM
        return setup_numpy_matmul()
    import tensorflow as tf
    dtype = spec.get("dtype", "float32")
    a = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
    b = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
    float(tf.matmul(a, b)[0, 0])  # warm-up: thread pools and kernel selection

    def run(num_reps):
        for _ in range(num_reps):
            c = tf.matmul(a, b)  # eager ops run synchronously on CPU: each call waits
        float(c[0, 0])
        return 2 * MATMUL_SIZE ** 3 * num_reps

    return run, count_flops()


def setup_numpy_matmul():
    """float32 `a @ b` in NumPy (its own BLAS, OpenBLAS in the wheels): TensorFlow's matmul
    may itself be below what the cores can do."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32) for _ in "ab")
    a @ b

    def run(num_reps):
        for _ in range(num_reps):
            a @ b  # synchronous
        return 2 * MATMUL_SIZE ** 3 * num_reps

    return run, {"numpy_version": np.__version__}


SETUPS = {"tutorial": setup_tutorial, "package": setup_package, "matmul": setup_matmul}


def main(spec):
    if "core" in spec:
        # Before TensorFlow starts: its thread pools and every later thread inherit the core.
        os.sched_setaffinity(0, {spec["core"]})
    import tensorflow as tf
    import keras
    started = time.perf_counter()
    run, info = SETUPS[spec["kind"]](spec)
    if spec["kind"] != "matmul":  # (the matmul warms up in its setup)
        # At least one step: the first call traces the tf.function (and compiles under XLA).
        run(max(spec["warmup_steps"], 1))
    emit({"ready": True, "setup_secs": time.perf_counter() - started,
          "tf_version": tf.__version__, "keras_version": keras.__version__, **info})
    serve(run, spec["steps"])


def serve(run, steps):
    """The protocol after `ready`: each `run` line on stdin times `run(steps)` and answers
    with the work done and the seconds; anything else ends the process (benchmarks/peer_torch.py
    speaks it too, under torch's interpreter: this module imports no TensorFlow at its top)."""
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        work = run(steps)
        emit({"work": work, "secs": time.perf_counter() - started})
    # Skip the framework's teardown: a multi-worker process can take tens of seconds to exit.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
