"""The training engine (``Engine``: gradient steps on index batches) and one run (``train_run``).

Data path: the pair table is two device tensors (gene indices (n, 2) and fitness (n,)); an epoch
is a seeded permutation of the training rows cut into slices; a step gathers ``idx[rows]`` and
``y[rows]`` and calls the model. The feature table sits in the model as a device buffer. No
DataLoader, no per-sample objects. On CUDA the forward runs under bf16 autocast.

Under ``torchrun`` (WORLD_SIZE > 1) the same command trains with DistributedDataParallel: every
global batch of ``batch_size`` rows is shared out between the processes (rank r takes rows
r, r + world, ...), so one process and N processes see the same batches; rank 0 writes the run
folder, evaluates, and broadcasts early-stopping decisions.

Robustness: a non-finite loss raises ``Diverged`` (status ``diverged``; the last checkpoint,
written while the loss was finite, stays); SIGTERM/SIGINT save a mid-epoch checkpoint and mark
the run ``interrupted``; ``resume=True`` continues from ``checkpoints/last.pt`` at the saved
epoch and step (batch order is a function of seed and epoch, so the rest of the epoch is the
same batches). Per-step metrics of wt models go to steps.jsonl every ``log_every`` steps
(auto: every step when an epoch has up to 1,000 steps, else about 1,000 rows per epoch); the
loss is checked for NaN/inf (and SIGTERM for) at every step on CPU and every ``log_every``
steps on CUDA (fewer host syncs).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from cre_core.atomic import atomic_path, clean_json, write_json_atomic
from cre_core.errors import CreError
from cre_core.models import FitnessModel, Ontology, WtDiff
from cre_core.processes import process_identity
from cre_core.train import data as D
from cre_core.train import runs as R
from cre_core.train.checkpoint import load_checkpoint, save_checkpoint
from cre_core.train.config import TrainConfig
from cre_core.train.metrics import epsilon_metrics, regression_metrics
from cre_core.workspace import Workspace

CHECKPOINT_MINUTES = 10.0    # a mid-epoch checkpoint at most this often (long CPU epochs)


class Diverged(Exception):
    """The loss became NaN or inf."""


class StopRequested(Exception):
    """SIGTERM/SIGINT arrived; the run saved its state."""


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        backend = os.environ.get("CRE_DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend)
    return info


def pick_device(kind: str, local_rank: int = 0) -> torch.device:
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise CreError("--device cuda, but CUDA is not available here; use --device auto or cpu")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Engine:
    """Gradient steps of ``model`` on rows of the device tensors ``idx`` (n, K) and ``y`` (n,)."""

    def __init__(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, idx: torch.Tensor,
        y: torch.Tensor, *, batch_size: int, seed: int = 0, amp: bool = True,
        clip: float | None = None, grad_norm: bool = False, dist_info: DistInfo = DistInfo(),
    ) -> None:
        self.model, self.optimizer, self.idx, self.y = model, optimizer, idx, y
        self.core: FitnessModel = model.module if isinstance(model, DistributedDataParallel) else model
        self.batch_size, self.seed, self.clip, self.dist = batch_size, seed, clip, dist_info
        self.device = idx.device
        self.amp = amp and self.device.type == "cuda"
        self.want_grad_norm = grad_norm or clip is not None
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.step = 0

    def autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def epoch_batches(self, rows: torch.Tensor, epoch: int) -> list[torch.Tensor]:
        """This process's share of every global batch of the epoch (seeded by seed and epoch).

        A last partial batch is kept when it has at least two rows per process (BatchNorm
        needs two), else dropped.
        """
        device = rows.device if rows.device.type == "cuda" else torch.device("cpu")
        gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + epoch)
        order = rows[torch.randperm(len(rows), generator=gen, device=device)]
        bs, world = self.batch_size, self.dist.world
        return [order[s * bs:(s + 1) * bs][self.dist.rank::world] for s in range(self.steps_per_epoch(len(rows)))]

    def steps_per_epoch(self, n_rows: int) -> int:
        bs = self.batch_size
        return n_rows // bs + (1 if n_rows % bs >= 2 * self.dist.world else 0)

    def train_step(self, rows: torch.Tensor, wt_only: bool = False) -> tuple[dict, torch.Tensor | None]:
        """One optimiser step; returns the model's output dict and the gradient norm (or None)."""
        self.model.train()
        with self.autocast():
            if wt_only:
                out = self.model(self.idx[rows[:0]], self.y[rows[:0]], wt_only=True)
            else:
                out = self.model(self.idx[rows], self.y[rows])
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        norm = None
        if self.want_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.clip if self.clip else math.inf)
        self.optimizer.step()
        self.step += 1
        return out, norm


@torch.no_grad()
def predict_rows(model: FitnessModel, idx: torch.Tensor, rows: torch.Tensor, batch: int,
                 amp: bool = False) -> np.ndarray:
    """Eval-mode predictions for ``idx[rows]`` in batches, as float64 numpy."""
    model.eval()
    batch = model.eval_rows(batch)
    out = []
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        for s in range(0, len(rows), batch):
            out.append(model(idx[rows[s:s + batch]])["pred"].float())
    return torch.cat(out).cpu().double().numpy() if out else np.zeros(0)


def make_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device):
    params = [p for p in model.parameters() if p.requires_grad]
    fused = device.type == "cuda"
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)


# --- one run ---------------------------------------------------------------------------------

def train_run(ws: Workspace, config: TrainConfig, run_dir: str | Path | None = None,
              resume: bool = False, echo: Callable[[str], None] = print) -> dict | None:
    """Train (or resume) one run; returns the summary on rank 0 (None on other ranks)."""
    info = init_distributed()
    try:
        return _Run(ws, config, run_dir, resume, info, echo).execute()
    finally:
        if info.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


class _Run:
    def __init__(self, ws, config, run_dir, resume, info: DistInfo, echo) -> None:
        self.ws, self.config, self.resume, self.info = ws, config, resume, info
        self.echo = echo if info.is_main else (lambda _msg: None)
        self.requested_dir = run_dir
        self.stop_flag = False
        self.started = time.time()
        self.prior_seconds = 0.0
        self.last_save = time.monotonic()
        self.epochs_log = self.steps_log = None

    # -- set-up --
    def execute(self) -> dict | None:
        self.folder = self._setup_folder()
        previous = self._install_signals()
        try:
            self._prepare()
            self._restore()
            if self.info.is_main:        # opened after _restore trimmed them
                self.epochs_log = R.JsonlWriter(self.folder / "epochs.jsonl")
                if self.core.wt_model:
                    self.steps_log = R.JsonlWriter(self.folder / "steps.jsonl")
            self._fit()
            return self._finish("done")
        except StopRequested:
            self._write_status("interrupted", message="stopped by signal; resume with --resume")
            self.echo("interrupted: checkpoint saved; continue with --resume")
            return {"status": "interrupted", "run_id": self.folder.name, "run_dir": str(self.folder)}
        except Diverged as exc:
            self.echo(f"diverged: {exc}; keeping the last good checkpoint")
            return self._finish("diverged", diverged_at=str(exc))
        except BaseException as exc:
            self._write_status("failed", message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for log in (self.epochs_log, self.steps_log):
                if log is not None:
                    log.close()

    def _setup_folder(self) -> Path:
        path = None
        if self.info.is_main:
            if self.requested_dir is None:
                if self.resume:
                    raise CreError("--resume needs --run-dir (or a run id)")
                path = R.create_run_dir(self.ws, self.config)
            else:
                path = Path(self.requested_dir).resolve()
                path.mkdir(parents=True, exist_ok=True)
                if not self.resume and (path / "checkpoints" / "last.pt").exists():
                    raise CreError(f"{path} already holds a trained run; pass --resume or another --run-dir")
            (path / "checkpoints").mkdir(exist_ok=True)
            write_json_atomic(path / "config.json", self.config.to_dict())
            status = R.read_json(path / "status.json") or {}
            R.write_status(path, "running", **process_identity(os.getpid()),
                           created=status.get("created", time.time()), started=time.time(),
                           world_size=self.info.world, message=None)
        if self.info.world > 1:
            box = [str(path) if path else None]
            dist.broadcast_object_list(box, src=0)
            path = Path(box[0])
        return path

    def _install_signals(self) -> dict:
        previous = {}

        def handler(signum, frame):
            self.stop_flag = True

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, handler)
        except ValueError:        # not the main thread: no signal handling
            pass
        return previous

    def _prepare(self) -> None:
        cfg, info = self.config, self.info
        self.device = pick_device(cfg.device, info.local_rank)
        t0 = time.perf_counter()
        table = D.load_pairs(self.ws)
        rows = D.subset_rows(len(table), cfg.subset, cfg.split_seed)
        self.split = D.make_split(table.idx, rows, cfg.split, cfg.split_seed, cfg.val_frac, cfg.test_frac)
        self.table = table
        features = D.gene_features(self.ws, cfg, table.genes) if cfg.uses_table else None
        windows = D.gene_windows(self.ws, cfg.features, table.genes) if cfg.uses_windows else None
        ontology = D.load_ontology(self.ws, table.genes, cfg.dcell_min_genes) if cfg.model == "dcell" else None
        torch.manual_seed(cfg.seed)
        in_dim = features.table.shape[1] if features is not None else 0
        model = D.model_from_config(cfg, table.n_genes, in_dim, ontology, table.smf).to(self.device)
        if features is not None:
            model.set_features(torch.from_numpy(features.table))
        if windows is not None:
            model.encoder.set_windows(windows.codes)
        self.train_mean = float(table.fitness[self.split.train].mean())
        model.init_output(self.train_mean)
        self.core = model
        self.meta = _meta(cfg, table.genes, in_dim, features, ontology, self.train_mean)
        self.idx = torch.from_numpy(table.idx).to(self.device)
        self.y = torch.from_numpy(table.fitness).to(self.device)
        self.rows = {k: torch.from_numpy(getattr(self.split, k)).to(self.device) for k in ("train", "val", "test")}
        wrapped = model
        if info.world > 1 and model.trainable:
            wrapped = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = make_optimizer(model, cfg, self.device) if model.trainable else None
        self.engine = Engine(
            wrapped, self.optimizer, self.idx, self.y, batch_size=max(1, cfg.batch_size // info.world) * info.world,
            seed=cfg.seed, amp=cfg.amp, clip=cfg.clip, grad_norm=model.wt_model, dist_info=info,
        ) if model.trainable else None
        self.state = {"epoch": 0, "epoch_step": 0, "best_val": math.inf, "best_epoch": -1,
                      "bad_epochs": 0, "loss_sum": 0.0, "loss_count": 0}
        inputs = features or windows
        extra = f", {inputs.missing} genes without features" if inputs is not None and inputs.missing else ""
        self.echo(
            f"{cfg.model}: {len(rows):,} pairs ({cfg.split} split: {self.split.info['n_train']:,} train, "
            f"{self.split.info['n_val']:,} val, {self.split.info['n_test']:,} test, "
            f"{self.split.info['dropped']:,} dropped), {table.n_genes:,} genes{extra}, device {self.device}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, data in {time.perf_counter() - t0:.1f} s"
        )

    def _restore(self) -> None:
        last = self.folder / "checkpoints" / "last.pt"
        if not self.resume:
            return
        if not last.exists():
            self.echo("no checkpoint yet: starting from the beginning")
            return
        ckpt = load_checkpoint(last, map_location=self.device)
        self.core.load_state_dict(ckpt["model"])
        if self.optimizer is not None and ckpt.get("optimizer"):
            self.optimizer.load_state_dict(ckpt["optimizer"])
        for key in self.state:
            self.state[key] = ckpt[key]
        self.prior_seconds = float(ckpt.get("seconds", 0.0))
        if self.engine is not None:
            self.engine.step = int(ckpt["step"])
        torch.set_rng_state(ckpt["rng"].cpu())
        epoch, step = self.state["epoch"], self.state["epoch_step"]
        if self.info.is_main:   # drop metrics written after the checkpoint
            R.truncate_jsonl(self.folder / "epochs.jsonl", lambda r: r.get("epoch", 0) <= epoch)
            gstep = int(ckpt["step"])
            R.truncate_jsonl(self.folder / "steps.jsonl", lambda r: r.get("step", 0) <= gstep)
        self.echo(f"resumed from epoch {epoch + 1}, step {step} of that epoch")

    # -- training --
    def _fit(self) -> None:
        cfg = self.config
        if self.engine is None:
            self._closed_form_epoch()
            return
        n_steps = self.engine.steps_per_epoch(len(self.rows["train"]))
        self.log_every = cfg.log_every or (1 if n_steps <= 1000 else math.ceil(n_steps / 1000))
        if isinstance(self.core, WtDiff) and self.engine.step < cfg.wt_warmup and self.state["epoch"] == 0:
            self._warmup()
        while self.state["epoch"] < cfg.epochs:
            epoch = self.state["epoch"]
            t0 = time.perf_counter()
            train_loss = self._train_epoch(epoch)
            stop = False
            if self.info.is_main:
                stop = self._end_epoch(epoch, train_loss, time.perf_counter() - t0)
            if self.info.world > 1:
                flag = torch.tensor([float(stop)], device=self.device)
                dist.broadcast(flag, src=0)
                stop = bool(flag.item())
            self.state["epoch"] = epoch + 1          # every rank (rank 0 also set it when saving)
            if stop:
                break

    def _warmup(self) -> None:
        """wt-diff --wt-warmup N: N steps fitting only the wild type to 1.0 (logged as epoch 0)."""
        while self.engine.step < self.config.wt_warmup:
            out, norm = self.engine.train_step(self.rows["train"][:0], wt_only=True)
            self._check_finite(out["loss"], 0)
            self._log_step(0, out, norm, force=True, phase="warmup")
            if self._stop_requested():
                self._save_last(0, 0)
                raise StopRequested()

    def _train_epoch(self, epoch: int) -> float:
        batches = self.engine.epoch_batches(self.rows["train"], epoch)
        start = self.state["epoch_step"]
        loss_sum = torch.tensor(self.state["loss_sum"], dtype=torch.float64, device=self.device)
        count = torch.tensor(float(self.state["loss_count"]), dtype=torch.float64, device=self.device)
        on_cpu = self.device.type == "cpu"
        for i in range(start, len(batches)):
            out, norm = self.engine.train_step(batches[i])
            loss_sum += out["loss"].detach().double() * len(batches[i])
            count += len(batches[i])
            self._log_step(epoch + 1, out, norm)
            if on_cpu or self.engine.step % self.log_every == 0 or i == len(batches) - 1:
                self._check_finite(loss_sum, epoch + 1)
                if self._stop_requested():
                    self._save_last(epoch, i + 1, loss_sum, count)
                    raise StopRequested()
                if time.monotonic() - self.last_save > CHECKPOINT_MINUTES * 60 and i + 1 < len(batches):
                    self._save_last(epoch, i + 1, loss_sum, count)
        if self.info.world > 1:
            both = torch.stack([loss_sum, count])
            dist.all_reduce(both)
            loss_sum, count = both[0], both[1]
        self.state["epoch_step"], self.state["loss_sum"], self.state["loss_count"] = 0, 0.0, 0
        return float(loss_sum / count.clamp(min=1))

    def _log_step(self, epoch: int, out: dict, norm, force: bool = False, phase: str = "train") -> None:
        if not self.core.wt_model or not (force or self.engine.step % self.log_every == 0):
            return
        if self.steps_log is not None:
            self.steps_log.write({
                "step": self.engine.step, "epoch": epoch, "loss": float(out["loss"].detach()),
                "wt_mean": float(out["wt_mean"]), "wt_loss": float(out["wt_loss"]),
                "grad_norm": None if norm is None else float(norm), "phase": phase,
            })

    def _check_finite(self, value: torch.Tensor, epoch: int) -> None:
        bad = torch.tensor([0.0 if bool(torch.isfinite(value).all()) else 1.0], device=self.device)
        if self.info.world > 1:
            dist.all_reduce(bad)
        if bad.item() > 0:
            raise Diverged(f"non-finite loss at epoch {epoch}, step {self.engine.step}")

    def _stop_requested(self) -> bool:
        if self.info.world == 1:
            return self.stop_flag
        flag = torch.tensor([float(self.stop_flag)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _end_epoch(self, epoch: int, train_loss: float, seconds: float) -> bool:
        """Validate, log, checkpoint; returns True when early stopping says stop (rank 0)."""
        pred = predict_rows(self.core, self.idx, self.rows["val"], self.config.eval_batch_size, self.engine.amp)
        val = regression_metrics(self.y[self.rows["val"]].cpu().numpy(), pred)
        st = self.state
        improved = val["mse"] < st["best_val"]
        if improved:
            st["best_val"], st["best_epoch"], st["bad_epochs"] = val["mse"], epoch + 1, 0
            self._save_best(epoch + 1, val["mse"])
        else:
            st["bad_epochs"] += 1
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val["mse"],
               "val_pearson": val["pearson"], "val_spearman": val["spearman"], "val_r2": val["r2"],
               "seconds": seconds, "step": self.engine.step, "best": improved,
               "lr": self.optimizer.param_groups[0]["lr"]}
        if self.core.wt_model:
            row["wt_pred"] = self.core.wt_prediction()
        self.epochs_log.write(row)
        st["epoch"] = epoch + 1
        self._save_last(epoch + 1, 0)
        self._write_status("running", epoch=epoch + 1, step=self.engine.step)
        self.echo(
            f"epoch {epoch + 1}/{self.config.epochs}  train_loss {train_loss:.5f}  val_loss {val['mse']:.5f}  "
            f"val_r {val['pearson']:.3f}  {seconds:.1f} s" + ("  *" if improved else "")
        )
        return st["bad_epochs"] >= self.config.patience

    def _closed_form_epoch(self) -> None:
        """Baselines without gradient steps: one 'epoch' of validation, then the test."""
        if not self.info.is_main:
            return
        t0 = time.perf_counter()
        train_pred = predict_rows(self.core, self.idx, self.rows["train"], self.config.eval_batch_size)
        train_loss = regression_metrics(self.y[self.rows["train"]].cpu().numpy(), train_pred)["mse"]
        pred = predict_rows(self.core, self.idx, self.rows["val"], self.config.eval_batch_size)
        val = regression_metrics(self.y[self.rows["val"]].cpu().numpy(), pred)
        self._save_best(1, val["mse"])
        self.epochs_log.write({"epoch": 1, "train_loss": train_loss, "val_loss": val["mse"],
                               "val_pearson": val["pearson"], "val_spearman": val["spearman"],
                               "val_r2": val["r2"], "seconds": time.perf_counter() - t0, "best": True})
        self.state.update(epoch=1, best_val=val["mse"], best_epoch=1)
        self._save_last(1, 0)

    # -- files --
    def _seconds(self) -> float:
        return self.prior_seconds + time.time() - self.started

    def _save_last(self, epoch: int, epoch_step: int, loss_sum=None, count=None) -> None:
        if not self.info.is_main:
            return
        state = dict(self.state, epoch=epoch, epoch_step=epoch_step)
        if loss_sum is not None:
            state["loss_sum"], state["loss_count"] = float(loss_sum), int(count)
        save_checkpoint(self.folder / "checkpoints" / "last.pt", {
            "model": self.core.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else {},
            "step": self.engine.step if self.engine else 0, "rng": torch.get_rng_state(),
            "seconds": self._seconds(), "meta": self.meta, **state,
        })
        self.last_save = time.monotonic()

    def _save_best(self, epoch: int, val_loss: float) -> None:
        save_checkpoint(self.folder / "checkpoints" / "best.pt",
                        {"model": self.core.state_dict(), "epoch": epoch, "val_loss": val_loss, "meta": self.meta})

    def _write_status(self, status: str, **fields) -> None:
        if self.info.is_main and getattr(self, "folder", None) is not None:
            R.write_status(self.folder, status, **fields)

    def _finish(self, status: str, **extra) -> dict | None:
        if not self.info.is_main:
            return None
        best = self.folder / "checkpoints" / "best.pt"
        summary = {
            "run_id": self.folder.name, "run_dir": str(self.folder), "status": status,
            "model": self.config.model, "features": self.config.features if self.config.uses_features else None,
            "split": self.config.split, "embedder": self.config.embedder if self.config.uses_features else None,
            "n_train": len(self.split.train), "n_val": len(self.split.val), "n_genes": self.table.n_genes,
            "split_info": self.split.info, "best_epoch": self.state["best_epoch"],
            "epochs_run": self.state["epoch"], "device": str(self.device), "world_size": self.info.world,
            **extra,
        }
        if best.exists():
            self.core.load_state_dict(load_checkpoint(best, map_location=self.device)["model"])
            summary.update(self._test())
        else:
            summary.update(pearson=None, spearman=None, r2=None, mse=None, n_test=len(self.split.test))
        summary["seconds"] = round(self._seconds(), 2)
        write_json_atomic(self.folder / "summary.json", summary)
        self._write_status(status, epoch=self.state["epoch"], step=self.engine.step if self.engine else 0)
        return clean_json(summary)

    def _test(self) -> dict:
        rows = self.rows["test"]
        amp = self.engine.amp if self.engine else False
        pred = predict_rows(self.core, self.idx, rows, self.config.eval_batch_size, amp)
        test_rows = self.split.test
        true = self.table.fitness[test_rows].astype(np.float64)
        pairs = self.table.idx[test_rows]
        smf_a, smf_b = self.table.smf[pairs[:, 0]], self.table.smf[pairs[:, 1]]
        eps_true = self.table.epsilon[test_rows]
        metrics = regression_metrics(true, pred)
        genes = np.asarray(self.table.genes, dtype=object)
        mult = (smf_a * smf_b).astype(np.float64)      # float32, as the multiplicative model
        frame = pd.DataFrame({
            "genes": pd.Series(genes[pairs[:, 0]]) + "," + pd.Series(genes[pairs[:, 1]]),
            "n_genes": 2, "true": true, "predicted": pred,
            "gene_a": genes[pairs[:, 0]], "gene_b": genes[pairs[:, 1]],
            "smf_a": smf_a, "smf_b": smf_b, "multiplicative": mult,
            "epsilon_pred": pred - mult, "epsilon_true": eps_true,
        })
        with atomic_path(self.folder / "predictions.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
        out = {"pearson": metrics["pearson"], "spearman": metrics["spearman"], "r2": metrics["r2"],
               "mse": metrics["mse"], "n_test": metrics["n"]}
        out.update(epsilon_metrics(pred, smf_a, smf_b, eps_true))
        out["wt_pred"] = self.core.wt_prediction() if self.core.wt_model else None
        return out


def _meta(config: TrainConfig, genes: list[str], in_dim: int, features, ontology: Ontology | None,
          train_mean: float) -> dict:
    """What the query service needs to rebuild the model without the pair table."""
    return {
        "config": config.to_dict(), "genes": list(genes), "n_genes": len(genes), "in_dim": in_dim,
        "train_mean": train_mean,
        "feature_mean": torch.from_numpy(features.mean) if features is not None else None,
        "feature_std": torch.from_numpy(features.std) if features is not None else None,
        "ontology": ontology.to_dict() if ontology is not None else None,
    }
