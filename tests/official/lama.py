"""big-lama's ``best.ckpt``: a PyTorch Lightning 1.2 checkpoint of LaMa's training module.

Layout from a reading of advimman/lama (``saicinpainting/training/modules/ffc.py``
``FFCResNetGenerator`` with ``configs/training/big-lama.yaml``'s generator section;
``modules/pix2pixhd.py`` ``NLayerDiscriminator`` with ``discriminator/pix2pixhd_nlayer.yaml``;
``trainers/base.py``: two Adam optimisers, ``save_hyperparameters(config)`` with the OmegaConf
training config) and of what Lightning 1.2.9 writes (``epoch``, ``global_step``,
``pytorch-lightning_version``, ``state_dict``, ``callbacks`` keyed by the callback's class,
``optimizer_states``, ``lr_schedulers``, ``hparams_name``, ``hyper_parameters`` and its type).
The released file keeps the generator; the discriminator's tensors and the optimiser states
are written too (``training_parts``), as in the full checkpoint the authors published for
fine-tuning, so that loading must pick the generator out by name.

The pickled OmegaConf and Lightning objects are written under their real global names from
stand-in classes (neither package is a test dependency): reading must accept those names
without running either package's code.
"""

from __future__ import annotations

import contextlib
import sys
import types
import typing
from collections import defaultdict

import torch

from tests.modules_restored import modules_restored

from .layout import batchnorm, compact_state, random_state, scaled_random_state


def _ffc_block(shapes, prefix, cin, cout, kernel, ratio_in, ratio_out):
    """FFC_BN_ACT: convl2l / convl2g / convg2l convolutions (no bias), convg2g SpectralTransform
    (enable_lfu false), bn_l / bn_g."""
    in_g, out_g = int(cin * ratio_in), int(cout * ratio_out)
    in_l, out_l = cin - in_g, cout - out_g
    for name, a, b in (("convl2l", in_l, out_l), ("convl2g", in_l, out_g), ("convg2l", in_g, out_l)):
        if a and b:
            shapes[f"{prefix}.ffc.{name}.weight"] = (b, a, kernel, kernel)
    if in_g and out_g:
        half = out_g // 2
        shapes[f"{prefix}.ffc.convg2g.conv1.0.weight"] = (half, in_g, 1, 1)
        batchnorm(shapes, f"{prefix}.ffc.convg2g.conv1.1", half)
        shapes[f"{prefix}.ffc.convg2g.fu.conv_layer.weight"] = (2 * half, 2 * half, 1, 1)
        batchnorm(shapes, f"{prefix}.ffc.convg2g.fu.bn", 2 * half)
        shapes[f"{prefix}.ffc.convg2g.conv2.weight"] = (out_g, half, 1, 1)
    if ratio_out != 1:
        batchnorm(shapes, f"{prefix}.bn_l", out_l)
    if ratio_out != 0:
        batchnorm(shapes, f"{prefix}.bn_g", out_g)


def generator_shapes(ngf: int = 64, n_blocks: int = 18, n_downsampling: int = 3, ratio: float = 0.75) -> dict:
    """FFCResNetGenerator(input_nc=4, output_nc=3, ...), keys without the ``generator.`` prefix."""
    shapes: dict[str, tuple] = {}
    _ffc_block(shapes, "model.1", 4, ngf, 7, 0, 0)
    for i in range(n_downsampling):
        ratio_out = ratio if i == n_downsampling - 1 else 0
        _ffc_block(shapes, f"model.{2 + i}", ngf * 2**i, ngf * 2 ** (i + 1), 3, 0, ratio_out)
    index = 2 + n_downsampling
    bottleneck = ngf * 2**n_downsampling
    for _ in range(n_blocks):
        _ffc_block(shapes, f"model.{index}.conv1", bottleneck, bottleneck, 3, ratio, ratio)
        _ffc_block(shapes, f"model.{index}.conv2", bottleneck, bottleneck, 3, ratio, ratio)
        index += 1
    index += 1  # ConcatTupleLayer
    for i in range(n_downsampling):
        cin = ngf * 2 ** (n_downsampling - i)
        shapes[f"model.{index}.weight"] = (cin, cin // 2, 3, 3)  # ConvTranspose2d: (in, out, k, k)
        shapes[f"model.{index}.bias"] = (cin // 2,)
        batchnorm(shapes, f"model.{index + 1}", cin // 2)
        index += 3  # ConvTranspose2d, BatchNorm2d, ReLU
    index += 1  # ReflectionPad2d
    shapes[f"model.{index}.weight"] = (3, ngf, 7, 7)
    shapes[f"model.{index}.bias"] = (3,)
    return shapes


def discriminator_shapes(ndf: int = 64, n_layers: int = 4) -> dict:
    """NLayerDiscriminator(input_nc=3, ndf=64, n_layers=4): 4x4 convolutions with bias."""
    shapes: dict[str, tuple] = {"model0.0.weight": (ndf, 3, 4, 4), "model0.0.bias": (ndf,)}
    nf = ndf
    for n in range(1, n_layers + 1):
        prev, nf = nf, min(nf * 2, 512)
        shapes[f"model{n}.0.weight"] = (nf, prev, 4, 4)
        shapes[f"model{n}.0.bias"] = (nf,)
        batchnorm(shapes, f"model{n}.1", nf)
    shapes[f"model{n_layers + 1}.0.weight"] = (1, nf, 4, 4)
    shapes[f"model{n_layers + 1}.0.bias"] = (1,)
    return shapes


def _adam_state(shapes: dict, lr: float) -> dict:
    """torch.optim.Adam's state_dict over the parameters (not buffers) of ``shapes``; its moments
    are one number each, expanded (their values do not matter, their size would)."""
    parameters = [shape for key, shape in shapes.items() if not key.split(".")[-1].startswith(("running_", "num_"))]
    state = {
        i: {"step": torch.tensor(1000.0), "exp_avg": torch.full((), 1e-4).expand(shape),
            "exp_avg_sq": torch.full((), 1e-8).expand(shape)}
        for i, shape in enumerate(parameters)
    }
    group = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False}
    return {"state": state, "param_groups": [{**group, "params": list(range(len(parameters)))}]}


# -- stand-ins pickled under the real packages' names ------------------------------------------

_STAND_INS = {
    "omegaconf.dictconfig": ("DictConfig",),
    "omegaconf.listconfig": ("ListConfig",),
    "omegaconf.base": ("ContainerMetadata", "Metadata"),
    "omegaconf.nodes": ("AnyNode",),
    "pytorch_lightning.callbacks.model_checkpoint": ("ModelCheckpoint",),
}


@contextlib.contextmanager
def _packages_named_as_official():
    """Modules with the official names, holding plain classes, for the time of one torch.save."""
    parents = {".".join(name.split(".")[:i]) for name in _STAND_INS for i in range(1, name.count(".") + 1)}
    classes = {}
    with modules_restored([*parents, *_STAND_INS]):
        for parent in parents:
            sys.modules[parent] = types.ModuleType(parent)  # an import of a submodule looks for its package
        for module_name, class_names in _STAND_INS.items():
            module = types.ModuleType(module_name)
            for class_name in class_names:
                cls = type(class_name, (), {"__module__": module_name})
                setattr(module, class_name, cls)
                classes[class_name] = cls
            sys.modules[module_name] = module
        yield classes


def _config(classes: dict, values: dict) -> object:
    """An object pickled as OmegaConf 2 pickles a DictConfig: metadata, parent, content of nodes."""

    def node(value):
        if isinstance(value, dict):
            return _config(classes, value)
        if isinstance(value, list):
            items = classes["ListConfig"]()
            items.__dict__.update({"_metadata": metadata("ListConfig"), "_parent": None, "_content": [node(v) for v in value]})
            return items
        leaf = classes["AnyNode"]()
        leaf.__dict__.update({"_metadata": metadata("Metadata"), "_parent": None, "_val": value})
        return leaf

    def metadata(kind: str):
        record = classes["Metadata" if kind == "Metadata" else "ContainerMetadata"]()
        record.__dict__.update(
            {"ref_type": typing.Any, "object_type": dict if kind == "DictConfig" else list, "optional": True,
             "key": None, "flags": defaultdict(dict), "key_type": typing.Any, "element_type": typing.Any}
        )
        return record

    config = classes["DictConfig"]()
    config.__dict__.update({"_metadata": metadata("DictConfig"), "_parent": None,
                            "_content": {key: node(value) for key, value in values.items()}})
    return config


BIG_LAMA_CONFIG = {
    "run_title": "",
    "training_model": {"kind": "default", "visualize_each_iters": 1000, "concat_mask": True},
    "generator": {
        "kind": "ffc_resnet", "input_nc": 4, "output_nc": 3, "ngf": 64, "n_downsampling": 3, "n_blocks": 18,
        "add_out_act": "sigmoid",
        "init_conv_kwargs": {"ratio_gin": 0, "ratio_gout": 0, "enable_lfu": False},
        "downsample_conv_kwargs": {"ratio_gin": 0, "ratio_gout": 0, "enable_lfu": False},
        "resnet_conv_kwargs": {"ratio_gin": 0.75, "ratio_gout": 0.75, "enable_lfu": False},
    },
    "discriminator": {"kind": "pix2pixhd_nlayer", "input_nc": 3, "ndf": 64, "n_layers": 4},
    "optimizers": {"generator": {"kind": "adam", "lr": 0.001}, "discriminator": {"kind": "adam", "lr": 0.0001}},
    "trainer": {"kwargs": {"gpus": -1, "accelerator": "ddp"}, "checkpoint_kwargs": {"monitor": "val_ssim_fid100_f1_total_mean"}},
}


def lama_generator_state(seed: int = 0, values: str = "random", **generator_kwargs) -> dict[str, torch.Tensor]:
    """The generator's tensors as the checkpoint holds them, without the ``generator.`` prefix.
    ``values``: "random" (layout.random_state), "scaled" (golden values) or "compact" (one
    number per tensor: the full-size layout in a small file)."""
    shapes = generator_shapes(**generator_kwargs)
    if values == "compact":
        return compact_state(shapes)
    return scaled_random_state(shapes, seed) if values == "scaled" else random_state(shapes, seed)


def write_lama(
    path, seed: int = 0, values: str = "random", training_parts: bool = True, left_out: tuple[str, ...] = (),
    **generator_kwargs,
) -> dict:
    """Write ``best.ckpt`` (``generator_kwargs``: ngf, n_blocks for narrow test networks;
    ``left_out``: generator keys not to write, for tests of broken files). Returns the
    generator's state (keys without the prefix)."""
    generator = lama_generator_state(seed, values, **generator_kwargs)
    state_dict = {f"generator.{key}": value for key, value in generator.items() if key not in left_out}
    checkpoint = {"epoch": 39, "global_step": 1_000_000, "pytorch-lightning_version": "1.2.9", "lr_schedulers": []}
    with _packages_named_as_official() as classes:
        if training_parts:
            disc_shapes = discriminator_shapes()
            state_dict.update({f"discriminator.{k}": v for k, v in compact_state(disc_shapes).items()})
            checkpoint["optimizer_states"] = [
                _adam_state(generator_shapes(**generator_kwargs), 0.001), _adam_state(disc_shapes, 0.0001)
            ]
        checkpoint_callback_state = {"monitor": "val_ssim_fid100_f1_total_mean", "best_model_score": torch.tensor(0.87),
                                     "best_model_path": "/group-volume/big-lama/models/best.ckpt", "current_score": torch.tensor(0.86),
                                     "dirpath": "/group-volume/big-lama/models"}
        checkpoint["callbacks"] = {classes["ModelCheckpoint"]: checkpoint_callback_state}
        checkpoint["state_dict"] = state_dict
        checkpoint["hparams_name"] = "config"
        checkpoint["hyper_parameters"] = _config(classes, BIG_LAMA_CONFIG)
        checkpoint["hparams_type"] = classes["DictConfig"]
        torch.save(checkpoint, path)
    return generator
