"""What a score was measured on, said with the score: a published protocol's name, or 'custom'.

An FID compares with another only when both used the same network, the same reference
images (split and count), the same number of generated images and the same resizing. Every
score dcgan-eval prints or records carries those (`describe`), and the name of the
published protocol they match (PROTOCOLS), so a number can be put beside a paper's table, or
is plainly marked as not comparable with one.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Protocol:
    """reference_split: the split compared against; reference_images: how many of it (0:
    all of it); generated: how many images are generated; source: where its numbers are."""

    reference_split: str
    reference_images: int
    generated: int
    source: str


PROTOCOLS = {
    # Lucic et al. 2018, "Are GANs Created Equal?" (NeurIPS; Dai & Wipf, ICLR 2019, Table 1
    # quotes it): MNIST's 10,000 test images against 10,000 generated, grey tiled to RGB.
    # Best FID per GAN: NS GAN 6.8, WGAN 6.7, LSGAN 7.8, DRAGAN 7.6, MM GAN 9.8, WGAN-GP 20.3.
    "lucic2018": Protocol("test", 10000, 10000,
                          "Lucic et al. 2018 (10,000 test images vs 10,000 generated)"),
    # StyleGAN2-ADA's metrics/metric_main.py fid50k_full: the whole training set against
    # 50,000 generated images.
    "fid50k_full": Protocol("train", 0, 50000,
                            "StyleGAN2-ADA's fid50k_full (the whole train split vs 50,000 "
                            "generated)"),
}


def match(reference_split, reference_images, split_size, generated):
    """The name of the protocol these settings follow, or 'custom'."""
    for name, p in PROTOCOLS.items():
        wanted = p.reference_images or split_size
        if (p.reference_split, wanted, p.generated) == (reference_split, reference_images,
                                                        generated) and split_size >= wanted:
            return name
    return "custom"


def describe(name, dataset, reference_split, reference_images, generated, resize):
    """One line: the protocol, the reference, the generated count and the resize."""
    about = PROTOCOLS[name].source if name in PROTOCOLS else "not a published protocol"
    return (f"protocol {name} ({about}): {generated} generated images vs {reference_images} "
            f"{dataset} {reference_split} images; {resize}")
