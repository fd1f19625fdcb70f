"""One worker of a multi-worker test: the trainer's own path (flags -> Config -> train), then
the final weights to an .npz, so the test can compare workers. Run as a script with TF_CONFIG."""

import sys

from absl import app
import numpy as np

from dcgan_dist import config as config_lib, flags as flag_defs, loop  # noqa: F401


def main(argv):
    out_path = argv[1]
    state = loop.train(config_lib.Config.from_flags())
    weights = state.generator.weights + state.discriminator.weights
    np.savez(out_path, *[np.asarray(w.numpy()) for w in weights], step=state.step.numpy())


if __name__ == "__main__":
    app.run(main, argv=sys.argv)
