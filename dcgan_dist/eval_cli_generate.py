"""`python -m dcgan_dist.eval_cli_generate` = `dcgan-generate` (see eval_cli)."""

from dcgan_dist.eval_cli import run_generate

if __name__ == "__main__":
    run_generate()
