"""The backbone contract: a model with named layers, its own preprocessing and ``forward_layers``."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import unknown_name
from .preprocess import Preprocessing

PENULTIMATE = "penultimate"  # the input of the classification head: what the paper probes


class _StopForward(Exception):
    """Raised from a hook once every requested layer is captured, to skip the rest of the network."""


class Backbone(nn.Module):
    """A frozen feature extractor.

    Parameters
    ----------
    model: the wrapped network (kept in eval mode).
    name: registry name as the user typed it (``resnet50``, ``timm:vit_small_patch16_224``).
    weights: id of the weights (``torchvision:ResNet50_Weights.IMAGENET1K_V2``, ``random-init(seed=0)``,
        ``file:<path>#sha256=...``).
    preprocessing: how uint8 images become model input.
    layers: curated, ordered probe points, shallow to deep; ``penultimate`` is appended.
    head: module name of the classifier whose *input* is the penultimate representation; None when the
        model's output is itself the representation.
    num_prefix_tokens: class/register tokens in token outputs (for cls/mean pooling).
    """

    def __init__(self, model: nn.Module, *, name: str, weights: str, preprocessing: Preprocessing,
                 layers: Sequence[str] = (), head: str | None = None, num_prefix_tokens: int = 0,
                 label: str | None = None, info: dict | None = None):
        super().__init__()
        self.model = model.eval()
        self.name = name
        self.weights = weights
        self.preprocessing = preprocessing
        self.head = head
        self.num_prefix_tokens = int(num_prefix_tokens)
        self.label = label or name
        self.info = dict(info or {})
        self._modules_by_name = dict(model.named_modules())
        self._layers = [l for l in layers if l != PENULTIMATE] + [PENULTIMATE]
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Backbone:
        """Always eval: a frozen feature extractor must not update BatchNorm statistics or use dropout."""
        return super().train(False)

    # -- layers -------------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Curated probe points, shallow to deep, ending with ``penultimate``."""
        return list(self._layers)

    def resolve_layers(self, spec: str | Sequence[str | int] | None = None) -> list[str]:
        """Layer names for ``spec``: names, module paths or indices into :attr:`layer_names` (-1 = last).

        ``None`` means the penultimate representation. ``"all"`` means every curated layer.
        """
        if spec is None or spec == "" or spec == []:
            return [PENULTIMATE]
        if isinstance(spec, str):
            if spec == "all":
                return self.layer_names
            spec = [s.strip() for s in spec.split(",") if s.strip()]
        out: list[str] = []
        for item in spec:
            name = self._resolve_one(item)
            if name not in out:
                out.append(name)
        return out

    def _resolve_one(self, item: str | int) -> str:
        text = str(item)
        if text.lstrip("-").isdigit():
            i = int(text)
            if -len(self._layers) <= i < len(self._layers):
                return self._layers[i]
            raise unknown_name("layer index", text, [str(j) for j in range(-len(self._layers), len(self._layers))],
                               hint=f"{self.name} has {len(self._layers)} layers: {', '.join(self._layers)}")
        if text == PENULTIMATE or text in self._layers or (text in self._modules_by_name and text):
            return text
        raise unknown_name("layer", text, self._layers + [n for n in self._modules_by_name if n][:2000],
                           hint=f"layers of {self.name}: {', '.join(self._layers)}; any module path also works")

    # -- forward ------------------------------------------------------------------------------------
    def forward_layers(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Run the model on preprocessed ``x`` and return the raw (unpooled) output of each layer."""
        wanted = list(layers)
        captured: dict[str, torch.Tensor] = {}
        handles = []

        def done():
            if len(captured) == len(wanted):
                raise _StopForward

        def out_hook(name):
            def hook(module, inputs, output):
                captured[name] = output[0] if isinstance(output, (tuple, list)) else output
                done()
            return hook

        def head_hook(module, inputs):
            captured[PENULTIMATE] = inputs[0]
            done()

        try:
            for name in wanted:
                if name == PENULTIMATE:
                    if self.head is not None:
                        handles.append(self._modules_by_name[self.head].register_forward_pre_hook(head_hook))
                else:
                    handles.append(self._modules_by_name[name].register_forward_hook(out_hook(name)))
            try:
                out = self.model(x)
            except _StopForward:
                out = None
            if PENULTIMATE in wanted and self.head is None:
                captured[PENULTIMATE] = out
        finally:
            for h in handles:
                h.remove()
        return {name: captured[name] for name in wanted}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def describe(self) -> dict:
        """Metadata recorded in feature stores."""
        return {"backbone": self.name, "weights": self.weights, "model_label": self.label,
                "num_prefix_tokens": self.num_prefix_tokens, **self.info}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, weights={self.weights!r}, layers={self._layers}"


def last_linear(model: nn.Module) -> str | None:
    """Module name of the last ``nn.Linear`` in registration order (the classifier, usually)."""
    name = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    return name
