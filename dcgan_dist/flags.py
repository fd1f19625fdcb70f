"""Every command-line flag of `dcgan-train`, grouped. Defaults live here and nowhere else.

`config.Config.from_flags` reads these values (and `main` reads --verbose to decide how to
report an error); the rest of the package takes a Config.
"""

from absl import flags

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")
ARCHITECTURES = ("tutorial", "dcgan")  # the keys of models.ARCHITECTURES
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16", "float64")

# --- data -------------------------------------------------------------------------------
flags.DEFINE_string("dataset", "mnist", "TFDS dataset name with an image feature.")
flags.DEFINE_string("data_dir", None, "TFDS data directory (local or gs://). "
                    "Default: TFDS's own (~/tensorflow_datasets).")
flags.DEFINE_string("split", "train", "TFDS split to train on.")
flags.DEFINE_string("image_key", None, "The dataset's image feature; default: its only one.")
flags.DEFINE_integer("image_size", 0, "Train at NxN: center-crop each image to a square on its "
                     "shorter side, then resize (antialiased when shrinking); 0 = the dataset's "
                     "own size, which must be square and the same for every image.")
flags.DEFINE_integer("cache_limit_mb", 4096, "Hold the decoded split in memory when its size at "
                     "the training resolution, per input pipeline (worker), is at most this many "
                     "MB; above it, stream from disk.")
flags.DEFINE_bool("random_flip", False, "Flip real images horizontally at random (faces, "
                  "bedrooms); a stateless function of (seed, step, example).")
flags.DEFINE_bool("synthetic_data", False, "Feed random images of the dataset's shape with no "
                  "input cost instead of reading TFDS (smoke runs, benchmarks).")

# --- model ------------------------------------------------------------------------------
flags.DEFINE_string("architecture", "tutorial", "tutorial: the TensorFlow DCGAN tutorial's "
                    "models (square sides divisible by 4); dcgan: the DCGAN paper's (32, 64, "
                    "128 or 256 px).")
flags.DEFINE_integer("noise_dim", 100, "Length of the generator's noise vector z.")
flags.DEFINE_integer("g_filters", 256, "Generator width. tutorial: depth of its first feature "
                     "map, halved by each upsampling block (256, 128, 64); dcgan: the 4x4 map has "
                     "8x this many channels, halved by each upsampling (paper: 128).")
flags.DEFINE_integer("d_filters", 64, "Filters of the discriminator's first conv; each next conv "
                     "has twice as many (tutorial: 64, 128; dcgan: up to the 4x4 map).")
flags.DEFINE_integer("d_dense_units", 0, "Units of a LeakyReLU dense layer between the "
                     "discriminator's convs and its logit; 0 = none (the tutorial). Without "
                     "--d_r1_gamma it overpowers the generator (benchmarks/RESULTS_quality.md).")
flags.DEFINE_float("d_dropout", 0.3, "Dropout rate after each discriminator conv block.")
flags.DEFINE_float("g_ema_decay", 0.0, "Keep an exponential moving average of the generator's "
                   "weights for samples and evaluation; decay per step min(this, (1 + step) / "
                   "(10 + step)); 0 = off.")
flags.DEFINE_bool("sync_batchnorm", False, "Batch norm statistics over the global batch "
                  "instead of each replica's slice (both networks; the tutorial's discriminator "
                  "has none).")

# --- optimisation -----------------------------------------------------------------------
flags.DEFINE_integer("global_batch_size", 256, "Images per step, summed over all replicas.")
flags.DEFINE_float("g_lr", 1e-4, "Generator Adam learning rate.")
flags.DEFINE_float("d_lr", 1e-4, "Discriminator Adam learning rate.")
flags.DEFINE_float("lr_decay_fraction", 0.0, "Decay both learning rates linearly to 0 over "
                   "this fraction of the run's steps, at its end; 0 = constant rates.")
flags.DEFINE_float("d_r1_gamma", 0.0, "Weight of the R1 penalty gamma/2 * |grad D(real)|^2 in "
                   "the discriminator's loss (and in its logged d_loss); 0 = off (the tutorial).")
flags.DEFINE_float("adam_beta1", 0.9, "Adam beta_1 for both optimizers (DCGAN paper: 0.5).")
flags.DEFINE_string("precision", "auto", f"One of {', '.join(PRECISIONS)}; auto = mixed_float16 "
                  "on GPU, mixed_bfloat16 on TPU and on CPUs with native bfloat16 "
                  "(avx512_bf16 or amx_bf16), else float32.")

# --- runtime ----------------------------------------------------------------------------
flags.DEFINE_string("strategy", "auto", f"One of {', '.join(STRATEGIES)}; auto = tpu if --tpu, "
                    "mirrored on several GPUs, gpu on one, else cpu.")
flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices "
                     "(mirrored runs and tests without GPUs).")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu "
                    "('local' on a TPU VM).")
flags.DEFINE_string("all_reduce", "nccl", "Mirrored on GPUs: nccl or hierarchical_copy.")
flags.DEFINE_string("collective", "auto", "Multi-worker collectives: auto, ring or nccl.")
flags.DEFINE_integer("collective_timeout_secs", 300, "Multi-worker: a collective that waits "
                     "this long for a peer fails the run instead of hanging; 0 = never.")
flags.DEFINE_integer("slurm_port_base", 8888, "Multi-worker under SLURM (no TF_CONFIG): the "
                     "port of a node's first task; its k-th task listens on this + k.")
flags.DEFINE_integer("steps_per_execution", 1, "Training steps per tf.function call.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the per-replica forward/backward pass.")
flags.DEFINE_integer("seed", 0, "Seed for weights, noise, dropout and shuffling.")
flags.DEFINE_bool("deterministic", False, "Enable TensorFlow op determinism (slower; exact "
                  "resume and reproducible runs).")

# --- schedule ---------------------------------------------------------------------------
flags.DEFINE_integer("train_steps", 0, "Total steps; 0 = --epochs full passes.")
flags.DEFINE_integer("epochs", 50, "Epochs when --train_steps=0 (epoch = examples // "
                     "global batch steps).")
flags.DEFINE_integer("log_every_steps", 100, "Steps between progress lines and stats.")
flags.DEFINE_integer("sample_every_steps", 0, "Steps between sample grids; 0 = once an epoch.")
flags.DEFINE_integer("ckpt_every_steps", 0, "Steps between checkpoints; 0 = once an epoch.")
flags.DEFINE_integer("eval_every_steps", 0, "Steps between evaluations (FID/KID/precision/"
                     "recall on every available feature network, classifier score) into "
                     "stats.jsonl and TensorBoard, on the chief; 0 = off.")
flags.DEFINE_string("inception_path", None, "The reference FID network: classify_image_graph_def"
                    ".pb, a folder holding it, or inception-2015-12-05.tgz (local or gs://); "
                    "default $DCGAN_INCEPTION_PATH; without either, no Inception metrics.")
flags.DEFINE_integer("eval_num_images", 2000, "Generated images per periodic evaluation.")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept in workdir/ckpt.")

# --- output -----------------------------------------------------------------------------
flags.DEFINE_string("workdir", None, "Run directory (local or gs://): checkpoints, samples, "
                    "GIF, stats.jsonl, TensorBoard. Rerunning resumes from it.")
flags.DEFINE_bool("verbose", False, "Show Python tracebacks for errors.")

FLAGS = flags.FLAGS
