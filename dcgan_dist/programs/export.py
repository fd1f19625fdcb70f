"""`dcgan-export --workdir=W --output=DIR [--overwrite]`: a run's generator as a SavedModel
(`evaluation.export` says what it holds)."""

from dcgan_dist import build
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import export
from dcgan_dist.programs import cli

FLAGS = ("workdir", "output", "overwrite", "verbose")
RUN_FILES = ("run.json", "flags.txt")  # the first found travels with the model


def main(argv, flag_values):
    if argv[1:] or not flag_values.workdir or not flag_values.output:
        raise UserError("usage: dcgan-export --workdir=W --output=DIR [--overwrite]")
    workdir, output = flag_values.workdir, flag_values.output
    export.check_output(output, flag_values.overwrite)
    record, state = build.reopen(workdir)
    image_shape = export.export(state.sampling_generator, record.config.model.noise_dim,
                                state.num_classes, output,
                                [f"{workdir}/{name}" for name in RUN_FILES])
    signatures = ("generate(z, labels) and sample(labels, seed)" if state.num_classes else
                  "generate(z) and sample(num_images, seed)")
    print(f"{output}: SavedModel with signatures {signatures} -> uint8 images "
          f"{'x'.join(map(str, image_shape))}")


def run(argv=None):
    cli.run(main, "dcgan-export", FLAGS, argv)


if __name__ == "__main__":
    run()
