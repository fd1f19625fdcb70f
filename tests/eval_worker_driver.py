"""One worker of the periodic-evaluation test: dcgan-train's own path (flags -> Config ->
train), with the chief's scoring slowed to argv[1] seconds, past --collective_timeout_secs,
as scoring 10,000 images on the real Inception network on a CPU would be."""

import sys
import time

from absl import app

from dcgan_dist import config as config_lib, evaluation, flags as flag_defs, loop  # noqa: F401


def main(argv):
    slow_secs = float(argv[1])
    score = evaluation.Evaluator.score

    def slow_score(self, images):
        time.sleep(slow_secs)
        return score(self, images)

    evaluation.Evaluator.score = slow_score
    loop.train(config_lib.Config.from_flags())


if __name__ == "__main__":
    app.run(main, argv=sys.argv)
