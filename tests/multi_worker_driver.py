"""One worker of a multi-worker test: dcgan-train's own path (flags -> Config -> train), then
the final weights to an .npz, so the test can compare workers. Run as a script with TF_CONFIG.

    python multi_worker_driver.py OUT.npz [SLOW_SCORING_SECS] -- DCGAN-TRAIN FLAGS

With SLOW_SCORING_SECS the chief's scoring sleeps that long first, past
--collective_timeout_secs, as scoring 10,000 images on the real Inception network on a CPU
would be. SIGUSR1 hangs the worker's main thread (as a deadlocked input pipeline would)
while TensorFlow's own threads go on answering its peers' heartbeats.
"""

import signal
import sys
import time

import numpy as np

from dcgan_dist import config as config_lib, loop
from dcgan_dist.evaluation import evaluator
from dcgan_dist.programs import cli, train as train_program


def main():
    split = sys.argv.index("--")
    out_path, *slow = sys.argv[1:split]
    signal.signal(signal.SIGUSR1, lambda *_: time.sleep(24 * 3600))
    if slow:
        score = evaluator.Evaluator.score

        def slow_score(self, images, *labels):
            time.sleep(float(slow[0]))
            return score(self, images, *labels)

        evaluator.Evaluator.score = slow_score

    def train(argv, flag_values):
        del argv
        state = loop.train(config_lib.Config.from_flags(flag_values))
        weights = state.generator.weights + state.discriminator.weights
        np.savez(out_path, *[np.asarray(w.numpy()) for w in weights], step=state.step.numpy())

    cli.run(train, "dcgan-train", train_program.FLAGS, ["dcgan-train", *sys.argv[split + 1:]])


if __name__ == "__main__":
    main()
