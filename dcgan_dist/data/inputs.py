"""What a run trains on, made once from the config's data section: the dataset's metadata at
the training shape, the function that makes each input pipeline, and a description for the
start-up line. A caller (tests, benchmarks) may give its own dataset function instead.

    run_input = make_input(config.data, num_input_pipelines)
    run_input.make_dataset(input_context, start_step) -> per-replica batches in [-1, 1]
"""

import dataclasses

import tensorflow as tf

from dcgan_dist.data import images, info as data_info, sources


@dataclasses.dataclass(frozen=True)
class Input:
    """The run's images: `info` (image_shape, num_examples: 0 when unknown, class names),
    `make_dataset(input_context, start_step)`, and what to say about them."""
    data: object  # the config's data section
    info: data_info.DatasetInfo
    make_dataset: object
    description: str
    from_files: bool = False  # read from the dataset's files: not synthetic, not given

    def reals_uint8(self, num_images):
        """The first `num_images` training images as the model sees them, as uint8
        (reals.png), or None for synthetic or given images."""
        if not (self.from_files and self.info.num_examples):
            return None
        return images.to_uint8(sources.preview(self.data, self.info, num_images))


def make_input(data, num_input_pipelines=1, dataset_fn=None):
    """The Input of `data` (the config's data section) read by `num_input_pipelines`
    pipelines, through the source it picks (`sources`); or, with `dataset_fn(input_context,
    start_step)`, the caller's batches, their shape read from the first one (with
    --conditional, (images, labels) with the classes of data.dataset's metadata)."""
    if dataset_fn is not None:
        spec = tf.nest.flatten(dataset_fn(tf.distribute.InputContext(), 0).element_spec)[0]
        info = data_info.DatasetInfo(name=data.dataset, image_key="", source_shape=None,
                                     splits={}, label_key=None, num_classes=0)
        if data.conditional:  # the classes: the dataset's metadata, not its files
            info = data_info.read(data.dataset, data.data_dir, data.image_key,
                                  label_key=data.label_key)
        info = dataclasses.replace(info, image_shape=tuple(spec.shape[1:]))
        return Input(data, info, dataset_fn,
                     _describe(data, info, "images given by the caller at"))
    info = data_info.load_info(data)
    source = sources.make_source(data, info, num_input_pipelines)
    if data.synthetic_data:
        return Input(data, info, source.make_dataset,
                     _describe(data, info, f"synthetic images of {data.dataset}'s shape"))
    what = (f"{data.dataset}:{data.split} ({info.num_examples:,} images at "
            f"{_shape(info)}, {source.kind.replace('_', '-')})")
    return Input(data, info, source.make_dataset, _describe(data, info, what), from_files=True)


def _shape(info):
    return "x".join(map(str, info.image_shape))


def _describe(data, info, what):
    """`what` (ending in the shape where it does not give the size), and the classes of a
    conditional run."""
    text = what if what.endswith(")") else f"{what} {_shape(info)}"
    if data.conditional:
        names = info.class_names
        text += (f", conditional on its {info.label_key} ({len(names)} classes: "
                 + ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") + ")")
    return text
