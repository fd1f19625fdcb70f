"""The PyTorch peer of benchmarks/peer.py: pytorch/examples `dcgan/main.py`'s networks and
training step, timed with the same `BENCH {json}` protocol as throughput_worker.py.

Runs under a Python that has torch (its own virtual environment: torch is never a dependency
of dcgan-dist), and imports nothing else of this repository. The networks and the step are
main.py's, layer for layer at 64 px (ngf = ndf = 64 there):

- netG: ConvTranspose2d(nz, 8*ngf, 4, 1, 0) on z as a 1x1 map, then stride-2 4x4
  ConvTranspose2d (padding 1) halving the channels, BatchNorm2d + ReLU after each, and a last
  one to the image's channels with tanh; netD the mirror: stride-2 4x4 Conv2d, LeakyReLU(0.2),
  BatchNorm2d on all but the first, and a 4x4 valid Conv2d to one logit with a sigmoid. No
  biases anywhere (main.py's bias=False), weights N(0, 0.02), BN scales N(1, 0.02).
- The step: D on a real batch and on G's detached fakes, BCELoss, backward each, Adam step;
  then D on the same fakes again for G's BCELoss, backward, G's Adam step (lr 2e-4, betas
  (0.5, 0.999)). main.py's own loop, so three D forwards a step where dcgan-dist's step has two.

At 32 px the same networks have one stride-2 layer less on each side, as dcgan-dist's dcgan
at 32 px: netG still starts from main.py's 8*ngf channels at 4x4 and drops its last hidden
layer (8*ngf -> 4*ngf -> 2*ngf -> image), netD drops its widest (ndf -> 2*ndf -> 4*ndf), so both
sides train the same layer shapes at every size. (Until 2026-12-02 the 32 px netG dropped the
first layer instead, 4*ngf -> 2*ngf -> ngf: a quarter of the generator's work, against
dcgan-dist's full one; benchmarks/RESULTS_peer.md.) The data are one batch of random images
held in memory, as dcgan-train's --synthetic_data.
"""

import json
import math
import sys
import time

from benchmarks.throughput_worker import emit, serve


def build(torch, side, channels, nz, ngf, ndf):
    """main.py's _netG and _netD for `side` in {32, 64, 128, ...} (64: exactly main.py's),
    with dcgan-dist's dcgan layer shapes at every size (the module docstring)."""
    nn = torch.nn
    ups = int(math.log2(side // 4))  # stride-2 layers on each side: 4 at 64 px
    width = 8 * ngf  # main.py's first layer, as dcgan-dist's 8 * g_filters
    g_layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(True)]
    for _ in range(ups - 1):
        g_layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                     nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    g_layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    d_layers, width = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
                       nn.LeakyReLU(0.2, inplace=True)], ndf
    for _ in range(ups - 1):
        d_layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                     nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    d_layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    net_g, net_d = nn.Sequential(*g_layers), nn.Sequential(*d_layers)

    def weights_init(m):  # main.py's
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    net_g.apply(weights_init)
    net_d.apply(weights_init)
    return net_g, net_d


def setup(spec):
    """Returns `run(num_steps) -> images` and what the report shows about this process."""
    import torch
    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    batch, side, channels, nz = spec["batch"], spec["side"], spec["channels"], 100
    net_g, net_d = build(torch, side, channels, nz, spec["ngf"], spec["ndf"])
    if spec.get("channels_last"):
        net_g, net_d = (net.to(memory_format=torch.channels_last) for net in (net_g, net_d))
    criterion = torch.nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, channels, side, side) * 2 - 1  # held in memory, like --synthetic_data
    real_label, fake_label = 1.0, 0.0

    def step():  # main.py's loop body, less its printing and image saving
        net_d.zero_grad()
        label = torch.full((batch,), real_label)
        output = net_d(real).view(-1)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        noise = torch.randn(batch, nz, 1, 1)
        fake = net_g(noise)
        label.fill_(fake_label)
        output = net_d(fake.detach()).view(-1)
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = net_d(fake).view(-1)
        err_g = criterion(output, label)
        err_g.backward()
        opt_g.step()
        return err_d_real + err_d_fake, err_g

    def run(num_steps):
        for _ in range(num_steps):
            err_d, err_g = step()
        float(err_g.detach())  # eager on the CPU: every op has finished; a read to be sure
        return num_steps * batch

    params = (sum(p.numel() for p in net_g.parameters()),
              sum(p.numel() for p in net_d.parameters()))
    return run, {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                 "mkldnn": torch.backends.mkldnn.is_available(), "g_params": params[0],
                 "d_params": params[1]}, step, (net_g, net_d)


def setup_matmul(spec):
    """float32 torch.mm of two 2048x2048 matrices: one of the machine-limit rows."""
    import torch
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    size = spec["size"]
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)

    def run(num_reps):
        for _ in range(num_reps):
            c = torch.mm(a, b)
        float(c[0, 0])
        return 2 * size ** 3 * num_reps

    return run, {"torch_version": torch.__version__, "threads": torch.get_num_threads()}


def main(spec):
    started = time.perf_counter()
    if spec["kind"] == "matmul":
        run, info = setup_matmul(spec)
    else:
        run, info, _, _ = setup(spec)
        run(max(spec["warmup_steps"], 1))
    emit({"ready": True, "setup_secs": time.perf_counter() - started, **info})
    serve(run, spec["steps"])


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
