"""Contract tests for every registered backbone, layer resolution, and the real weight-loading paths."""
from __future__ import annotations

import os
import pickle

import pytest
import torch
import torchvision

from probekit.backbones import BACKBONES, PENULTIMATE, create_backbone, list_backbones
from probekit.errors import UnknownNameError, WeightsError

# torchvision families covered by the default suite; `-m slow` runs every torchvision model.
REPRESENTATIVE = ["resnet18", "vit_b_16", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_small", "regnet_y_400mf"]
TV = [n for n, h in BACKBONES.describe().items() if h == "torchvision classification model"]
OTHERS = ["pixels", "random-projection", "random:resnet18", "timm:resnet18", "timm:vit_tiny_patch16_224"]


def _contract(name, **kw):
    bb = create_backbone(name, weights="none", **kw) if not name.startswith(("pixels", "random")) else create_backbone(name, **kw)
    assert not bb.training and not any(p.requires_grad for p in bb.parameters())
    assert bb.layer_names[-1] == PENULTIMATE
    images = torch.randint(0, 256, (2, 1, 64, 64), dtype=torch.uint8)   # grey images: channel adaptation
    x = bb.preprocessing(images)
    if bb.preprocessing.channels:
        assert x.shape[1] == bb.preprocessing.channels
    layers = bb.resolve_layers([-2, -1]) if len(bb.layer_names) > 1 else [PENULTIMATE]
    with torch.inference_mode():
        out = bb.forward_layers(x, layers)
        logits = bb(x)
    assert list(out) == layers and all(t.shape[0] == 2 for t in out.values())
    assert torch.isfinite(out[PENULTIMATE]).all()
    if bb.head is not None:  # penultimate = what the head sees
        head = dict(bb.model.named_modules())[bb.head]
        with torch.inference_mode():
            torch.testing.assert_close(head(out[PENULTIMATE]), logits)
    desc = bb.describe()
    assert desc["backbone"] == name.removeprefix("random:") and desc["weights"]
    return bb, out


@pytest.mark.parametrize("name", REPRESENTATIVE + OTHERS)
def test_backbone_contract(name):
    _contract(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", TV)
def test_every_torchvision_backbone(name):
    _contract(name)


def test_every_registered_name_resolves():
    names = list_backbones()
    assert {"resnet50", "vit_b_16", "pixels", "random-projection", "timm:<...>", "random:<...>"} <= set(names)
    for name in names:
        if not name.endswith("<...>"):
            assert callable(BACKBONES.get(name))


def test_penultimate_widths_match_the_paper():
    r50 = create_backbone("resnet50", weights="none")
    vit = create_backbone("vit_b_16", weights="none")
    x = torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8)
    with torch.inference_mode():
        assert r50.forward_layers(r50.preprocessing(x), [PENULTIMATE])[PENULTIMATE].shape == (1, 2048)
        assert vit.forward_layers(vit.preprocessing(x), [PENULTIMATE])[PENULTIMATE].shape == (1, 768)
    rp = create_backbone("random-projection")
    with torch.inference_mode():
        assert rp.forward_layers(rp.preprocessing(x), [PENULTIMATE])[PENULTIMATE].shape == (1, 2048)


def test_layer_resolution_by_name_index_and_module_path():
    bb = create_backbone("resnet18", weights="none")
    assert bb.resolve_layers(None) == [PENULTIMATE]
    assert bb.resolve_layers("-2,-1") == ["layer4", PENULTIMATE]
    assert bb.resolve_layers("layer3,layer4") == ["layer3", "layer4"]
    assert bb.resolve_layers("layer2.0.conv1") == ["layer2.0.conv1"]
    assert bb.resolve_layers("all") == bb.layer_names
    with pytest.raises(UnknownNameError, match="did you mean 'layer4'"):
        bb.resolve_layers("layer44")
    with pytest.raises(UnknownNameError, match="layer index"):
        bb.resolve_layers("-9")
    with pytest.raises(UnknownNameError, match="did you mean 'resnet50'"):
        create_backbone("resnet5")


def test_random_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = create_backbone("resnet18", weights="none", seed=1)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = create_backbone("resnet18", weights="none", seed=1)
    c = create_backbone("resnet18", weights="none", seed=2)
    assert torch.equal(a.model.conv1.weight, b.model.conv1.weight)
    assert not torch.equal(a.model.conv1.weight, c.model.conv1.weight)


def test_pretrained_weights_load_from_the_torch_hub_cache():
    """Place a state dict where torch.hub keeps resnet18's file; the real loading path must use it."""
    weights = torchvision.models.ResNet18_Weights.DEFAULT
    torch.manual_seed(7)
    reference = torchvision.models.resnet18()
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    with pytest.raises(WeightsError, match=os.path.basename(weights.url)):
        create_backbone("resnet18")          # not cached yet: the error names the file
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(reference.state_dict(), path)
    bb = create_backbone("resnet18")
    assert bb.weights == f"torchvision:{weights}"
    for k, v in reference.state_dict().items():
        torch.testing.assert_close(bb.model.state_dict()[k], v)
    assert bb.preprocessing.input_size == 224 and bb.preprocessing.mean == tuple(weights.transforms().mean)


def test_weights_file_safe_loading_and_architecture_check(tmp_path):
    torch.manual_seed(3)
    ref = torchvision.models.resnet18()
    good = tmp_path / "r18.pth"
    torch.save({"state_dict": ref.state_dict()}, good)
    bb = create_backbone("resnet18", weights=str(good))
    torch.testing.assert_close(bb.model.fc.weight, ref.fc.weight)
    assert bb.weights.startswith("file:") and "sha256=" in bb.weights
    from safetensors.torch import save_file

    st = tmp_path / "r18.safetensors"
    save_file(ref.state_dict(), str(st))
    torch.testing.assert_close(create_backbone("resnet18", weights=str(st)).model.fc.weight, ref.fc.weight)
    with pytest.raises(WeightsError, match="do not fit architecture resnet50"):
        create_backbone("resnet50", weights=str(good))
    with pytest.raises(WeightsError, match="does not exist"):
        create_backbone("resnet18", weights=str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        create_backbone("resnet18", weights=str(junk))


class _Bomb:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


# torch warns that the hostile file uses pickle protocol 4 before refusing it; the refusal is what is tested
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_weights_file_from_a_stranger_never_runs_code(tmp_path, in_tmp):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"fc.weight": _Bomb()}, f)
    with pytest.raises(WeightsError, match="cannot read weights file"):
        create_backbone("resnet18", weights=str(evil))
    assert not (in_tmp / "PWNED").exists()


def test_timm_pretrained_weights_load_from_the_hugging_face_cache():
    """Lay out a real HF cache entry (refs/main + snapshot) for timm's resnet18 weights."""
    import timm
    from huggingface_hub import constants
    from safetensors.torch import save_file

    with pytest.raises(WeightsError, match="not in the Hugging Face cache"):
        create_backbone("timm:resnet18")
    torch.manual_seed(11)
    ref = timm.create_model("resnet18")
    hub_id = ref.pretrained_cfg["hf_hub_id"]
    repo = os.path.join(constants.HF_HUB_CACHE, "models--" + hub_id.replace("/", "--"))
    rev = "0" * 40
    os.makedirs(os.path.join(repo, "refs"))
    os.makedirs(os.path.join(repo, "snapshots", rev))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(rev)
    save_file(ref.state_dict(), os.path.join(repo, "snapshots", rev, "model.safetensors"))
    bb = create_backbone("timm:resnet18")
    assert bb.weights == f"timm:{hub_id}"
    torch.testing.assert_close(bb.model.fc.weight, ref.fc.weight)


def test_random_projection_is_fixed_by_seed():
    x = torch.rand(3, 1, 16, 16)
    a = create_backbone("random-projection", width=32, seed=5)
    b = create_backbone("random-projection", width=32, seed=5)
    c = create_backbone("random-projection", width=32, seed=6)
    with torch.inference_mode():
        fa, fb, fc = a(x), b(x), c(x)
        f1 = torch.cat([a(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(fa, fb)
    torch.testing.assert_close(fa, f1)
    assert fa.shape == (3, 32) and not torch.allclose(fa, fc)
