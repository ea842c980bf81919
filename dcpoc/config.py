"""Typed run configuration: ModelConfig, TrainConfig, named presets, --set overrides, JSON round trip.

A run is fully described by a RunConfig (model + train). The resolved RunConfig is what gets stored
with every run (database row and runs/<id>/config.json), so a run can be reproduced from it alone.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

ARCHS = ("transformer", "dcformer")
ARCH_LABELS = {"transformer": "Transformer++", "dcformer": "DCFormer"}   # display names
# A run's variant: its arch and whether QK-norm is on. The ablation ladder a study can run, in
# rung order: the paper's Transformer++ (no QK-norm), Transformer++ with QK-norm, DCFormer (DCMHA +
# QK-norm, the paper's DCFormer++ attention). A DCFormer without QK-norm lies outside the ladder.
VARIANTS = ("transformer", "transformer-qknorm", "dcformer")
VARIANT_LABELS = {"transformer": "Transformer++", "transformer-qknorm": "Transformer++ + QK-norm",
                  "dcformer": "DCFormer", "dcformer-noqknorm": "DCFormer (no QK-norm)"}
ATTN_IMPLS = ("auto", "torch", "reference", "triton")
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A user-caused configuration problem; str() is one line naming it and what to do."""


@dataclass
class ModelConfig:
    arch: str = "dcformer"            # transformer (Transformer++) | dcformer (Transformer++ with DCMHA)
    vocab_size: int = 256             # byte-level tokenizer
    n_layer: int = 4
    n_embd: int = 128                 # D
    n_head: int = 4                   # H; head dim d = D / H
    ffn_hidden: int = 352             # SwiGLU hidden width
    seq_len: int = 128                # T
    norm_eps: float = 1e-6
    rope_base: float = 10000.0
    qk_norm: bool = True
    # Attention window per layer, cycled over the layers: "global" or e.g. "local:256,global".
    window_pattern: str = "global"
    # DCFormer's DCMHA path: auto (Triton on CUDA, else torch) | torch (fast PyTorch path) |
    # reference (the plain executable spec, slow) | triton (fused kernels)
    attn_impl: str = "auto"
    # DCMHA switches (DCMHA.md, "Switches the paper ablates"); ignored by the transformer arch.
    dc_pre: bool = True
    dc_post: bool = True
    dc_query: bool = True             # query-wise terms (low-rank and gate)
    dc_key: bool = True               # key-wise terms (low-rank and gate)
    dc_gate: bool = True              # elementwise tanh gates
    dc_lowrank: bool = True           # low-rank (w1 . a) w2 terms
    dc_rank: int = 2                  # R
    dc_static: bool = False           # static H x H matrix
    dc_hidden: int = 0                # C of the dynamic-weight MLP; 0 means 2 * H * R
    dc_init_std: float = 1e-4         # std of W2 and Wd: near-identity composition at init

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def dc_hidden_resolved(self) -> int:
        return self.dc_hidden or 2 * self.n_head * self.dc_rank

    def layer_windows(self) -> list[int | None]:
        """Window size per layer (None = global), from the cycled window_pattern."""
        pattern = parse_window_pattern(self.window_pattern)
        return [pattern[i % len(pattern)] for i in range(self.n_layer)]


@dataclass
class TrainConfig:
    steps: int = 600
    batch_size: int = 16              # sequences per optimizer step, all processes together
    grad_accum: int = 1               # micro-batches per step and process
    nproc: int = 1                    # processes (GPUs) with DistributedDataParallel; >1 uses torchrun
    lr: float = 1e-3                  # peak learning rate
    dc_lr_mult: float = 1.0           # multiplier on lr for the dynamic-weight projection parameters
    min_lr_ratio: float = 0.1         # cosine decays to this fraction of the peak
    warmup_frac: float = 0.01
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    seed: int = 1
    corpus: str = "pydoc"
    val_fraction: float = 0.1
    eval_every: int = 100
    eval_batches: int = 8             # batches of the cheap validation subset scored during training
    val_tokens: int = 262144          # final evaluation: the whole validation split up to this many
                                      # tokens, else a fixed sample of this many (data.Batches.validation)
    log_every: int = 10
    ckpt_every: int = 100
    device: str = "auto"              # auto | cpu | cuda
    compile: bool = False             # torch.compile the model
    gpu_type: str = "auto"            # price-table key for the cost; auto = from the device name
    threads: int = 0                  # CPU threads for torch; 0 = torch's default (all cores)

    @property
    def micro_batch(self) -> int:
        """Sequences one process runs forward and backward at a time."""
        return max(1, self.batch_size // max(1, self.grad_accum * self.nproc))


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "custom"

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "model": dataclasses.asdict(self.model),
                "train": dataclasses.asdict(self.train)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        unknown = set(data) - {"preset", "model", "train"}
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}: expected preset, model, train")
        model = _dataclass_from_dict(ModelConfig, data.get("model", {}))
        train = _dataclass_from_dict(TrainConfig, data.get("train", {}))
        run = cls(model=model, train=train, preset=str(data.get("preset", "custom")))
        validate(run)
        return run

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON ({e.msg} at line {e.lineno}); fix the file") from None


# ----------------------------------------------------------------------------- presets
# Each preset gives the model shape and a training budget; the arch is chosen separately so both
# architectures of a comparison share everything else.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {  # tests: seconds on a CPU
        "model": dict(n_layer=2, n_embd=32, n_head=2, ffn_hidden=96, seq_len=32),
        "train": dict(steps=60, batch_size=8, lr=3e-3, eval_every=20, eval_batches=2,
                      val_tokens=4096, log_every=5, ckpt_every=20, threads=1),
    },
    # cpu-xs / cpu-s / cpu-demo: a CPU ladder spanning about 7x in parameters (the reference-cpu
    # study); one thread each, so a second core stays free for the dashboard.
    "cpu-xs": {
        "model": dict(n_layer=2, n_embd=64, n_head=4, ffn_hidden=176, seq_len=128),
        "train": dict(steps=300, batch_size=16, lr=1e-3, eval_every=50, eval_batches=8,
                      log_every=10, ckpt_every=100, threads=1),
    },
    "cpu-s": {
        "model": dict(n_layer=3, n_embd=96, n_head=4, ffn_hidden=256, seq_len=128),
        "train": dict(steps=600, batch_size=16, lr=1e-3, eval_every=100, eval_batches=8,
                      log_every=10, ckpt_every=100, threads=1),
    },
    "cpu-demo": {  # minutes on a 2-core CPU
        "model": dict(n_layer=4, n_embd=128, n_head=4, ffn_hidden=352, seq_len=128),
        "train": dict(steps=600, batch_size=16, lr=1e-3, eval_every=100, eval_batches=8,
                      log_every=10, ckpt_every=100),
    },
    # gpu-xs / gpu-s / gpu-small: a GPU ladder spanning about 5x in parameters (reference-gpu).
    "gpu-xs": {  # about 5M parameters
        "model": dict(n_layer=6, n_embd=256, n_head=8, ffn_hidden=704, seq_len=1024),
        "train": dict(steps=2000, batch_size=32, lr=1e-3, eval_every=200, eval_batches=16,
                      log_every=20, ckpt_every=500),
    },
    "gpu-s": {  # about 14M parameters
        "model": dict(n_layer=8, n_embd=384, n_head=8, ffn_hidden=1024, seq_len=1024),
        "train": dict(steps=2000, batch_size=32, lr=1e-3, eval_every=200, eval_batches=16,
                      log_every=20, ckpt_every=500),
    },
    "gpu-small": {  # about 25M parameters
        "model": dict(n_layer=8, n_embd=512, n_head=8, ffn_hidden=1408, seq_len=1024),
        "train": dict(steps=2000, batch_size=32, lr=1e-3, eval_every=200, eval_batches=16,
                      log_every=20, ckpt_every=500),
    },
    "gpu-125m": {
        "model": dict(n_layer=12, n_embd=768, n_head=12, ffn_hidden=2048, seq_len=2048),
        "train": dict(steps=5000, batch_size=64, lr=6e-4, eval_every=500, eval_batches=16,
                      log_every=50, ckpt_every=1000),
    },
    "paper-405m": {  # the paper's 405M shape; about 0.5M tokens per step
        "model": dict(n_layer=24, n_embd=1024, n_head=16, ffn_hidden=2816, seq_len=2048),
        "train": dict(steps=13500, batch_size=256, grad_accum=16, lr=3e-4, eval_every=500,
                      eval_batches=16, log_every=50, ckpt_every=1000),
    },
}


def make_config(arch: str, preset: str, overrides: list[str] | None = None,
                **train_fields: Any) -> RunConfig:
    """Resolve arch + preset + --set overrides (+ explicit train fields such as steps, seed)."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown arch '{arch}': use one of {', '.join(ARCHS)}")
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}': use one of {', '.join(PRESETS)}")
    spec = PRESETS[preset]
    run = RunConfig(model=ModelConfig(arch=arch, **spec["model"]),
                    train=TrainConfig(**spec["train"]), preset=preset)
    for key, value in train_fields.items():
        if value is not None:
            _set_field(run.train, key, value)
    for item in overrides or []:
        apply_override(run, item)
    validate(run)
    return run


def variant_of(arch: str, qk_norm: bool) -> str:
    """The variant of a run with this arch and QK-norm switch (see VARIANTS)."""
    if arch == "transformer":
        return "transformer-qknorm" if qk_norm else "transformer"
    return "dcformer" if qk_norm else "dcformer-noqknorm"


def config_variant(arch: str, config: object) -> str:
    """The variant of a stored run config (a dict); a config that does not name qk_norm was
    written when QK-norm was always on, so it counts as on."""
    model = config.get("model") if isinstance(config, dict) else None
    qk_norm = (model or {}).get("qk_norm", True)
    return variant_of(arch, bool(qk_norm))


def variant_config(variant: str) -> tuple[str, list[str]]:
    """(arch, --set overrides) that train a variant; ConfigError for an unknown name."""
    arch = {"transformer": "transformer", "transformer-qknorm": "transformer",
            "dcformer": "dcformer", "dcformer-noqknorm": "dcformer"}.get(variant)
    if arch is None:
        raise ConfigError(f"unknown variant '{variant}': use one of {', '.join(VARIANTS)}")
    return arch, [f"qk_norm={'false' if variant in ('transformer', 'dcformer-noqknorm') else 'true'}"]


def apply_override(run: RunConfig, item: str) -> None:
    """Apply one 'key=value' (or 'model.key=value' / 'train.key=value') with a type check."""
    if "=" not in item:
        raise ConfigError(f"--set '{item}' is not key=value: write e.g. --set lr=3e-4")
    key, raw = (s.strip() for s in item.split("=", 1))
    section, _, name = key.rpartition(".")
    targets = {"model": run.model, "train": run.train}
    if section:
        if section not in targets:
            raise ConfigError(f"--set '{key}': unknown section '{section}'; use model.KEY or train.KEY")
        owners = [targets[section]] if name in _field_types(targets[section]) else []
    else:
        owners = [obj for obj in targets.values() if name in _field_types(obj)]
    if not owners:
        raise ConfigError(f"--set: unknown key '{key}'; see `python -m dcpoc train --help` for the keys")
    _set_field(owners[0], name, _parse_value(key, raw, _field_types(owners[0])[name]))


def parse_window_pattern(pattern: str) -> list[int | None]:
    """'global' -> [None]; 'local:256,global' -> [256, None]."""
    windows: list[int | None] = []
    for part in pattern.split(","):
        part = part.strip()
        if part == "global":
            windows.append(None)
        elif m := re.fullmatch(r"local:(\d+)", part):
            if int(m.group(1)) < 1:
                raise ConfigError(f"window_pattern '{pattern}': a local window must be at least 1")
            windows.append(int(m.group(1)))
        else:
            raise ConfigError(f"window_pattern '{pattern}': each part must be 'global' or 'local:N'")
    return windows


def validate(run: RunConfig) -> None:
    """Raise ConfigError naming the first value that cannot train. Checks run in order, lazily, so
    a later check may rely on an earlier one (no division by a zero n_head)."""
    from .costs import DEFAULT_PRICES_USD_PER_HOUR
    m, t = run.model, run.train
    gpu_types = ("auto", *DEFAULT_PRICES_USD_PER_HOUR)
    checks = [
        (lambda: m.arch in ARCHS, f"arch '{m.arch}' must be one of {', '.join(ARCHS)}"),
        (lambda: m.attn_impl in ATTN_IMPLS,
         f"attn_impl '{m.attn_impl}' must be one of {', '.join(ATTN_IMPLS)}"),
        (lambda: t.device in DEVICES, f"device '{t.device}' must be one of {', '.join(DEVICES)}"),
        (lambda: t.gpu_type in gpu_types, f"gpu_type '{t.gpu_type}' must be one of {', '.join(gpu_types)}"),
        *_int_range_checks(m, {"n_layer": 1024, "n_head": 1024, "n_embd": 65536, "ffn_hidden": 2**20,
                                "seq_len": 2**20, "vocab_size": 2**20, "dc_hidden": 2**20},
                           low={"seq_len": 2, "vocab_size": 256, "dc_hidden": 0}),
        (lambda: m.n_embd % m.n_head == 0,
         f"n_embd ({m.n_embd}) must be divisible by n_head ({m.n_head}); change one of them"),
        (lambda: m.head_dim % 2 == 0, "the head dim n_embd / n_head must be even for rotary embeddings"),
        (lambda: 1 <= m.dc_rank <= 8, f"dc_rank ({m.dc_rank}) must be between 1 and 8 (the paper uses 1, 2 or 4)"),
        (lambda: 0 < m.norm_eps < 1, f"norm_eps ({m.norm_eps}) must be in (0, 1) (the paper's 1e-6)"),
        (lambda: 1 < m.rope_base < math.inf, f"rope_base ({m.rope_base}) must be a number above 1 (10000 is usual)"),
        (lambda: 0 <= m.dc_init_std <= 1, f"dc_init_std ({m.dc_init_std}) must be in [0, 1] (1e-4 starts near identity)"),
        *_int_range_checks(t, {"steps": 10**9, "batch_size": 65536, "grad_accum": 65536, "nproc": 4096,
                               "eval_every": 10**9, "eval_batches": 10**6, "log_every": 10**9,
                               "ckpt_every": 10**9}),
        (lambda: t.batch_size % (t.grad_accum * t.nproc) == 0,
         f"batch_size ({t.batch_size}) must be a multiple of grad_accum x nproc ({t.grad_accum} x {t.nproc})"),
        (lambda: 0 < t.lr <= 10, f"lr ({t.lr}) must be a number in (0, 10] (1e-3 is usual)"),
        (lambda: 0 < t.dc_lr_mult <= 1000, f"dc_lr_mult ({t.dc_lr_mult}) must be in (0, 1000]"),
        (lambda: 0 <= t.min_lr_ratio <= 1, f"min_lr_ratio ({t.min_lr_ratio}) must be in [0, 1]"),
        (lambda: 0 <= t.warmup_frac < 1, f"warmup_frac ({t.warmup_frac}) must be in [0, 1)"),
        (lambda: 0 < t.val_fraction < 0.5, f"val_fraction ({t.val_fraction}) must be in (0, 0.5)"),
        *_int_range_checks(t, {"val_tokens": 2**34, "threads": 4096}, low={"val_tokens": 1, "threads": 0}),
        (lambda: t.val_tokens >= m.seq_len,
         f"val_tokens ({t.val_tokens}) must be at least seq_len ({m.seq_len}): one validation window"),
        (lambda: 0 <= t.grad_clip < math.inf, f"grad_clip ({t.grad_clip}) must be >= 0 (0: no clipping)"),
        (lambda: 0 <= t.weight_decay < math.inf, f"weight_decay ({t.weight_decay}) must be >= 0"),
        (lambda: 0 <= t.beta1 < 1 and 0 <= t.beta2 < 1,
         f"beta1 ({t.beta1}) and beta2 ({t.beta2}) must be in [0, 1) (AdamW; the paper uses 0.9, 0.95)"),
        (lambda: 0 < t.adam_eps < 1, f"adam_eps ({t.adam_eps}) must be in (0, 1) (1e-8 is usual)"),
        (lambda: 0 <= t.seed < 2**63, f"seed ({t.seed}) must be between 0 and 2^63 - 1"),
    ]
    for ok, message in checks:
        if not ok():
            raise ConfigError(message)
    parse_window_pattern(m.window_pattern)


def _int_range_checks(section: Any, highs: dict[str, int], low: dict[str, int] | None = None) -> list:
    """(check, message) per integer field: low (default 1) <= value <= high, the value named. The
    highs are far past anything that trains here; they stop a typo before it allocates or
    overflows the database's integer."""
    def check(name: str, lo: int, hi: int):
        value = getattr(section, name)
        return (lambda: lo <= value <= hi), f"{name} ({value}) must be between {lo} and {hi:,}"
    return [check(name, (low or {}).get(name, 1), hi) for name, hi in highs.items()]


def config_keys() -> list[str]:
    """Every key --set accepts, as 'section.name (type)'."""
    return [f"{sec}.{f.name} ({f.type})" for sec, cls in (("model", ModelConfig), ("train", TrainConfig))
            for f in fields(cls)]


# ----------------------------------------------------------------------------- helpers
def _field_types(obj_or_cls: Any) -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(obj_or_cls)}


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _parse_value(key: str, raw: str, type_name: str) -> Any:
    try:
        if type_name == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        return raw
    except ValueError:
        raise ConfigError(f"--set {key}={raw}: expected {_article(type_name)} {type_name} value") from None


def _set_field(obj: Any, name: str, value: Any) -> None:
    types = _field_types(obj)
    if name not in types:
        raise ConfigError(f"unknown {type(obj).__name__} field '{name}'")
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str}[types[name]]
    if isinstance(value, bool) and types[name] != "bool" or not isinstance(value, expected):
        raise ConfigError(f"{name}={value!r}: expected {_article(types[name])} {types[name]} value")
    setattr(obj, name, float(value) if types[name] == "float" else value)


def _dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    unknown = set(data) - set(_field_types(cls))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s) {sorted(unknown)}: remove them or fix the spelling")
    obj = cls()
    for name, value in data.items():
        _set_field(obj, name, value)
    return obj
