"""The network spec: one value from which the oracle, the column table, the workbook and verify follow.

A NetworkSpec says everything about a small fully-connected network that a workbook shows: the layer
sizes (inputs, 0 to 2 hidden layers, outputs), the activations, the loss, the biases, the training
samples and how they are batched. It also generates the notation, extending the course's so that its
books come out unchanged:

    inputs i1.., targets t1..; hidden units h1.. with activations a_h1.. (a second hidden layer g1..,
    a_g1..); outputs o1.., a_o1..; per-output losses E1.., E_total; weights w1..wK numbered layer by
    layer, within a layer by destination unit, then source unit (w1 = i1→h1, w2 = i2→h1, w3 = i1→h2,
    …, w5 = a_h1→o1); biases b1, b2, … per layer (Mazur's) or b_h1.., b_o1.. per unit; gradients
    dE_dw1.., dE_db1 / dE_db_h1...

With several samples in full batch, each sample's quantities carry a suffix: h1_s2 is h1 of sample 2.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
OUTPUT_ACTIVATIONS = ("sigmoid", "linear", "softmax")
LOSSES = ("half-squared", "squared", "cross-entropy")
BIAS_MODES = ("none", "fixed", "trained")
BIAS_PER = ("layer", "unit")
BATCHES = ("full", "online")

# Caps: what a sheet can still show and a reader still follow (and what sheetgen verify reads).
MAX_HIDDEN_LAYERS = 2
MAX_UNITS = 8  # per layer, inputs and outputs included
MAX_WEIGHTS = 64
MAX_SAMPLES = 16

# Unit prefixes of the hidden layers (first, second) and of the output layer.
HIDDEN_PREFIXES = ("h", "g")
OUTPUT_PREFIX = "o"


class SpecError(ValueError):
    """A spec that a sheet cannot show or that means nothing; the message says what to do."""


@dataclass(frozen=True)
class Layer:
    """One layer of weights and the units it feeds."""

    index: int  # 1 for the first hidden layer (or the output layer of a single neuron)
    prefix: str  # h, g or o
    activation: str
    sources: tuple[str, ...]  # what feeds it: i1.. or the previous layer's a_h1..
    units: tuple[str, ...]  # h1, h2, ...
    weights: tuple[tuple[str, ...], ...]  # weights[u][s]: source s → unit u
    biases: tuple[str | None, ...]  # the bias added into each unit (None: no bias)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(f"a_{u}" for u in self.units)


@dataclass(frozen=True)
class NetworkSpec:
    sizes: tuple[int, ...] = (2, 2, 2)  # inputs, hidden layers (0 to 2), outputs
    activation: str = "sigmoid"  # of the hidden layers
    output_activation: str = "sigmoid"
    loss: str = "half-squared"
    biases: str = "none"
    bias_per: str = "layer"
    # Training samples: ((inputs...), (targets...)) each; None: one sample, i1.. t1.. set as values.
    samples: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] | None = None
    batch: str = "full"
    _layers: tuple[Layer, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if self.samples is not None:
            samples = tuple((tuple(map(float, x)), tuple(map(float, t))) for x, t in self.samples)
            object.__setattr__(self, "samples", samples)
        self._check()
        object.__setattr__(self, "_layers", self._build_layers())

    # -- validation --------------------------------------------------------------------------------
    def _check(self) -> None:
        def choice(name, value, allowed):
            if value not in allowed:
                raise SpecError(f"{name} '{value}' is not known: use one of {', '.join(allowed)}")

        choice("--activation", self.activation, HIDDEN_ACTIVATIONS)
        choice("--output-activation", self.output_activation, OUTPUT_ACTIVATIONS)
        choice("--loss", self.loss, LOSSES)
        choice("--biases", self.biases, BIAS_MODES)
        choice("--bias-per", self.bias_per, BIAS_PER)
        choice("--batch", self.batch, BATCHES)
        text = "-".join(map(str, self.sizes))
        if not 2 <= len(self.sizes) <= 2 + MAX_HIDDEN_LAYERS:
            raise SpecError(
                f"--network {text}: give inputs, 0 to {MAX_HIDDEN_LAYERS} hidden layers and outputs, "
                "e.g. 2-2-2"
            )
        if any(not 1 <= s <= MAX_UNITS for s in self.sizes):
            raise SpecError(f"--network {text}: every layer needs 1 to {MAX_UNITS} units")
        n_weights = sum(a * b for a, b in zip(self.sizes, self.sizes[1:], strict=False))
        if n_weights > MAX_WEIGHTS:
            raise SpecError(
                f"--network {text} has {n_weights} weights, above the cap of {MAX_WEIGHTS}: use fewer units"
            )
        if self.output_activation == "softmax":
            if self.loss != "cross-entropy":
                raise SpecError(
                    f"softmax outputs are trained with --loss cross-entropy, not {self.loss}: "
                    "use --loss cross-entropy or --output-activation sigmoid"
                )
            if self.sizes[-1] < 2:
                raise SpecError("softmax needs at least 2 outputs: use --output-activation sigmoid for one")
        if self.loss == "cross-entropy" and self.output_activation == "linear":
            raise SpecError(
                "cross-entropy needs outputs in (0, 1): use --output-activation sigmoid or softmax, "
                "or --loss half-squared"
            )
        if self.samples is not None:
            if not 1 <= len(self.samples) <= MAX_SAMPLES:
                raise SpecError(f"give 1 to {MAX_SAMPLES} samples, not {len(self.samples)}")
            for n, (x, t) in enumerate(self.samples, start=1):
                if len(x) != self.sizes[0] or len(t) != self.sizes[-1]:
                    raise SpecError(
                        f"sample {n} has {len(x)} inputs and {len(t)} targets; the network "
                        f"{text} needs {self.sizes[0]} and {self.sizes[-1]}"
                    )

    # -- structure ---------------------------------------------------------------------------------
    def _build_layers(self) -> tuple[Layer, ...]:
        layers = []
        sources = tuple(f"i{k}" for k in range(1, self.sizes[0] + 1))
        n_weight = 0
        n_hidden = len(self.sizes) - 2
        for index, size in enumerate(self.sizes[1:], start=1):
            output = index == len(self.sizes) - 1
            prefix = OUTPUT_PREFIX if output else HIDDEN_PREFIXES[index - 1]
            units = tuple(f"{prefix}{u}" for u in range(1, size + 1))
            weights = []
            for _ in units:
                weights.append(tuple(f"w{n_weight + s}" for s in range(1, len(sources) + 1)))
                n_weight += len(sources)
            if self.biases == "none":
                biases = (None,) * size
            elif self.bias_per == "layer":
                biases = (f"b{index}",) * size
            else:
                biases = tuple(f"b_{u}" for u in units)
            layers.append(
                Layer(
                    index=index,
                    prefix=prefix,
                    activation=self.output_activation if output else self.activation,
                    sources=sources,
                    units=units,
                    weights=tuple(weights),
                    biases=biases,
                )
            )
            sources = tuple(f"a_{u}" for u in units)
        assert len(layers) == n_hidden + 1
        return tuple(layers)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self._layers

    @property
    def hidden(self) -> tuple[Layer, ...]:
        return self._layers[:-1]

    @property
    def output(self) -> Layer:
        return self._layers[-1]

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(f"i{k}" for k in range(1, self.sizes[0] + 1))

    @cached_property
    def targets(self) -> tuple[str, ...]:
        return tuple(f"t{k}" for k in range(1, self.sizes[-1] + 1))

    @cached_property
    def losses(self) -> tuple[str, ...]:
        return tuple(f"E{k}" for k in range(1, self.sizes[-1] + 1))

    @cached_property
    def weights(self) -> tuple[str, ...]:
        return tuple(w for layer in self._layers for row in layer.weights for w in row)

    @cached_property
    def bias_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for layer in self._layers:
            for b in layer.biases:
                if b is not None and b not in names:
                    names.append(b)
        return tuple(names)

    @cached_property
    def free(self) -> tuple[str, ...]:
        """What gradient descent updates: the weights, and the biases when trained."""
        return self.weights + (self.bias_names if self.biases == "trained" else ())

    @cached_property
    def n_samples(self) -> int:
        return 1 if self.samples is None else len(self.samples)

    @cached_property
    def blocks(self) -> int:
        """Sample blocks per table row: every sample in full batch, else one (online, or one sample)."""
        return self.n_samples if self.batch == "full" else 1

    @cached_property
    def initial_values(self) -> tuple[str, ...]:
        """The Inputs sheet's labelled values: i.., t.. (without a samples table), weights, biases."""
        data = () if self.samples is not None else self.inputs + self.targets
        return data + self.weights + self.bias_names

    def source_of(self, weight: str) -> tuple[str, str]:
        """(source, destination unit) of a weight: w5 -> (a_h1, o1)."""
        for layer in self._layers:
            for unit, row in zip(layer.units, layer.weights, strict=True):
                if weight in row:
                    return layer.sources[row.index(weight)], unit
        raise KeyError(weight)

    def bias_units(self, bias: str) -> tuple[str, ...]:
        """The units a bias is added into."""
        return tuple(
            u for layer in self._layers for u, b in zip(layer.units, layer.biases, strict=True) if b == bias
        )

    def is_course(self) -> bool:
        """The course's 2-2-2 sigmoid network with one sample (no biases, or Mazur's one per layer)."""
        return self == NetworkSpec(biases=self.biases)

    def describe(self) -> str:
        """One line: 2-2-1, sigmoid hidden, sigmoid outputs, half-squared loss, ..."""
        parts = ["-".join(map(str, self.sizes))]
        if self.hidden:
            parts.append(f"{self.activation} hidden")
        parts.append(f"{self.output_activation} output{'s' if self.sizes[-1] > 1 else ''}")
        parts.append(f"{self.loss} loss")
        parts.append("no biases" if self.biases == "none" else f"biases {self.biases} per {self.bias_per}")
        if self.samples is not None:
            parts.append(f"{self.n_samples} sample{'s' if self.n_samples > 1 else ''}, {self.batch} batch")
        return ", ".join(parts)

    # -- recording in a workbook --------------------------------------------------------------------
    def to_json(self) -> str:
        data = asdict(self)
        data.pop("_layers", None)
        return json.dumps(data, separators=(",", ":"))

    def recorded(self) -> str:
        """The spec as a built book records it (custom property "network"): everything but the samples'
        values, which live on the Inputs sheet (where a user may edit them), replaced by their count."""
        data = json.loads(self.to_json())
        data["samples"] = None if self.samples is None else len(self.samples)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_recorded(cls, text: str, samples=None) -> NetworkSpec:
        """The spec a book recorded, with its samples (as read from its Inputs sheet) when it has them.

        Raises ValueError (SpecError, or for malformed text) when the record cannot be a spec."""
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) - {f for f in cls.__dataclass_fields__ if f != "_layers"}:
            raise SpecError(f"not a network spec: {text[:80]}")
        count = data.get("samples")
        data["sizes"] = tuple(data.get("sizes", ()))
        data["samples"] = None if count is None else samples
        if count is not None and (samples is None or len(samples) != count):
            raise SpecError(
                f"the book records {count} samples but its Inputs sheet holds {len(samples or ())}"
            )
        return cls(**data)


DEFAULT = NetworkSpec()


def parse_sizes(text: str) -> tuple[int, ...]:
    """`--network 2-3-1` -> (2, 3, 1)."""
    parts = text.strip().split("-")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise SpecError(
            f"--network '{text}' is not a list of layer sizes: write e.g. 2-2-2 or 2-3-3-2"
        ) from None
    return sizes


def sample_key(key: str, sample: int, spec: NetworkSpec) -> str:
    """The column key of a per-sample quantity: h1 of sample 2 is h1_s2 when a row holds several samples."""
    return f"{key}_s{sample}" if spec.blocks > 1 else key
