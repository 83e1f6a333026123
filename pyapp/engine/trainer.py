"""The training loop: seeded, checkpointed, resumable, with validation and early stopping.

:func:`train` runs one job in a work folder. Every ``checkpoint_every`` steps it writes ``checkpoint.pt``
(model, optimiser, step, history) atomically; started again on the same folder it continues from there. The
batch of step ``s`` is drawn from ``numpy.random.default_rng([seed, s])``, so a resumed job computes the same
steps an uninterrupted one would. The best weights (by validation Dice) go to ``best.pt``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import DataError, Region, batch, dice, split


@dataclass(frozen=True)
class TrainConfig:
    """Training options (the ``config`` of ``start_training``); defaults suit a few nuclei images on a CPU."""

    steps: int = 400
    batch_size: int = 4
    patch: int = 128
    learning_rate: float = 1e-3
    val_fraction: float = 0.15
    val_every: int = 25
    checkpoint_every: int = 50
    patience: int = 8
    seed: int = 0
    base_channels: int = 16
    depth: int = 3
    augment: bool = True
    name: str = "pyapp nucleus segmentation"
    init_package: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None) -> TrainConfig:
        """Check ``config`` (unknown keys, types, ranges) and fill in defaults.

        Raises
        ------
        DataError
            With a one-line message naming the key.
        """
        config = dict(config or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - set(fields))
        if unknown:
            raise DataError(f"config.{unknown[0]}: unknown option (known: {', '.join(sorted(fields))})")
        values: dict[str, Any] = {}
        for key, value in config.items():
            default = getattr(cls, key, None)
            if key == "init_package":
                if value is not None and not isinstance(value, (bytes, bytearray)):
                    raise DataError("config.init_package: expected the bytes of a package zip this engine exported")
                values[key] = bytes(value) if value is not None else None
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise DataError(f"config.{key}: expected true or false, got {value!r}")
                values[key] = value
            elif isinstance(default, (int, float)) and not isinstance(value, bool) and isinstance(value, (int, float)):
                if isinstance(default, int) and value != int(value):
                    raise DataError(f"config.{key}: expected a whole number, got {value!r}")
                values[key] = type(default)(value)
            elif isinstance(default, str) and isinstance(value, str):
                values[key] = value
            else:
                raise DataError(f"config.{key}: expected a {type(default).__name__}, got {value!r}")
        cfg = cls(**values)
        cfg.check()
        return cfg

    def check(self) -> None:
        """Range checks (raises :class:`DataError`)."""
        mult = 2**self.depth
        rules = {"steps": self.steps >= 1, "batch_size": 1 <= self.batch_size <= 64,
                 "patch": self.patch >= mult and self.patch % mult == 0 and self.patch <= 1024,
                 "learning_rate": 0 < self.learning_rate < 1, "val_fraction": 0 <= self.val_fraction <= 0.5,
                 "val_every": self.val_every >= 1, "checkpoint_every": self.checkpoint_every >= 1,
                 "patience": self.patience >= 1, "base_channels": 4 <= self.base_channels <= 128,
                 "depth": 1 <= self.depth <= 5}
        bad = next((k for k, ok in rules.items() if not ok), None)
        if bad:
            raise DataError(f"config.{bad}: {getattr(self, bad)!r} is out of range")
        if not re.fullmatch(r"[\w+\- ()]{5,128}", self.name):
            raise DataError(f"config.name: {self.name!r}: use 5 to 128 letters, digits, spaces and _+-()")

    def public(self) -> dict[str, Any]:
        """The options as JSON-able values (``init_package`` as a flag)."""
        d = dataclasses.asdict(self)
        d["init_package"] = self.init_package is not None
        return d


@dataclass
class Progress:
    """What :func:`train` reports after each step (also the body of ``status``)."""

    step: int
    total_steps: int
    losses: list[list[float]]
    val_metrics: list[dict[str, float]]
    eta_s: float | None
    sample: dict[str, np.ndarray] | None = None
    early_stopped: bool = False
    resumed_at: list[int] = field(default_factory=list)


def _save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def make_model(cfg: TrainConfig) -> Any:
    """A fresh U-Net seeded by ``cfg.seed``, or the one in ``cfg.init_package`` (fine-tuning)."""
    import torch

    from .unet import UNet

    torch.manual_seed(cfg.seed)
    model = UNet(cfg.base_channels, cfg.depth)
    if cfg.init_package is not None:
        from .export import torchscript_state

        model.load_state_dict(torchscript_state(cfg.init_package, cfg.base_channels, cfg.depth))
    return model


def predict(model: Any, image: np.ndarray, depth: int) -> np.ndarray:
    """Probabilities ``(2, y, x)`` of a normalised ``(y, x)`` image (padded to a multiple of ``2**depth``)."""
    import torch

    mult = 2**depth
    h, w = image.shape
    ph, pw = -h % mult, -w % mult
    x = np.pad(image, ((0, ph), (0, pw)), mode="reflect")
    with torch.no_grad():
        device = next(model.parameters()).device
        out = model(torch.from_numpy(np.ascontiguousarray(x))[None, None].to(device))[0].cpu().numpy()
    return out[:, :h, :w]


def _validate(model: Any, val: Sequence[Region], depth: int) -> tuple[float, float, dict[str, np.ndarray]]:
    import torch

    model.eval()
    dices, losses, sample = [], [], {}
    for i, region in enumerate(val):
        prob = predict(model, region.image, depth)
        dices.append(dice(prob[0], region.target[0]))
        p = torch.from_numpy(prob).clamp(1e-6, 1 - 1e-6)
        losses.append(float(torch.nn.functional.binary_cross_entropy(p, torch.from_numpy(region.target))))
        if i == 0:
            size = min(128, *region.image.shape)
            crop = region.image[:size, :size]
            sample = {"image": np.clip(crop * 255, 0, 255).astype(np.uint8),
                      "prediction": (prob[0, :size, :size] * 255).round().astype(np.uint8),
                      "mask": (region.target[0, :size, :size] > 0).astype(np.uint8) * 255}
    model.train()
    return float(np.mean(dices)), float(np.mean(losses)), sample


def train(cfg: TrainConfig, pairs: Sequence[dict[str, Any]], workdir: Path, *,
          should_stop: Callable[[], bool] = lambda: False,
          on_progress: Callable[[Progress], None] = lambda p: None) -> tuple[Any, Progress]:
    """Train (or resume) in ``workdir``; returns the best model (eval mode, on the CPU) and the final progress.

    Runs on CUDA when torch sees a GPU, else on the CPU.

    ``should_stop()`` is asked before every step; when it says yes, training ends after writing a checkpoint.
    """
    import torch

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    train_regions, val_regions = split(pairs, cfg.val_fraction, cfg.patch)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = make_model(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    state: dict[str, Any] = {"step": 0, "losses": [], "val": [], "best": -1.0, "bad": 0, "early": False}
    ckpt = workdir / "checkpoint.pt"
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state = saved["state"]
        state.setdefault("resumed_at", []).append(state["step"])
    sample = None
    bce = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, done_here = time.perf_counter(), 0

    def progress() -> Progress:
        rate = (time.perf_counter() - started) / done_here if done_here else None
        eta = None if rate is None else rate * (cfg.steps - state["step"])
        return Progress(state["step"], cfg.steps, state["losses"], state["val"], eta, sample, state["early"],
                        state.get("resumed_at", []))

    while state["step"] < cfg.steps and not state["early"] and not should_stop():
        step = state["step"]
        xs, ys = batch(train_regions, np.random.default_rng([cfg.seed, step]), cfg.batch_size, cfg.patch, cfg.augment)
        opt.zero_grad()
        loss = bce(model.logits(torch.from_numpy(xs).to(device)), torch.from_numpy(ys).to(device))
        loss.backward()
        opt.step()
        state["step"] = step + 1
        done_here += 1
        state["losses"].append([state["step"], round(float(loss.detach()), 5)])
        if val_regions and (state["step"] % cfg.val_every == 0 or state["step"] == cfg.steps):
            d, vloss, sample = _validate(model, val_regions, cfg.depth)
            state["val"].append({"step": state["step"], "dice": round(d, 4), "loss": round(vloss, 5)})
            if d > state["best"]:
                state["best"], state["bad"] = d, 0
                _save(model.state_dict(), workdir / "best.pt")
            else:
                state["bad"] += 1
                state["early"] = state["bad"] >= cfg.patience
        if state["step"] % cfg.checkpoint_every == 0:
            _save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state}, ckpt)
        on_progress(progress())
    _save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state}, ckpt)
    if (workdir / "best.pt").is_file():
        model.load_state_dict(torch.load(workdir / "best.pt", weights_only=True, map_location=device))
    model = model.cpu().eval()  # export and callers work on the CPU
    return model, progress()
