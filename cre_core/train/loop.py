"""The training engine (``Engine``: gradient steps on index batches) and one run (``train_run``).

Data path: the set table (singles, doubles, triples) is device tensors (gene indices (n, 3)
padded with -1, fitness (n,), and the measured interaction (n,) for models that learn it); an epoch
is a seeded permutation of the training rows cut into slices; a step gathers ``idx[rows]`` and
``y[rows]`` and calls the model. The feature table sits in the model as a device buffer. No
DataLoader, no per-sample objects. On CUDA the forward runs under bf16 autocast.

Under ``torchrun`` (WORLD_SIZE > 1) the same command trains with DistributedDataParallel: every
global batch of ``batch_size`` rows is shared out between the processes (rank r takes rows
r, r + world, ...), so one process and N processes see the same batches; rank 0 writes the run
folder, evaluates, and broadcasts early-stopping decisions.

The run (``train_run``) is put together from parts with one job each: ``runtime`` (device and
the process group), ``EarlyStopping``, ``Checkpointer`` (last.pt / best.pt and the run's clock),
``MetricLog`` (epochs.jsonl / steps.jsonl), ``RunLock`` (one writer per folder), the stop request
(``runtime.stop_on_signals``: SIGTERM/SIGINT) and ``score_test``
(the test report); ``rebuild_model`` puts a resumed model back together as queries do.

Robustness: a non-finite loss raises ``Diverged`` (status ``diverged``; the last checkpoint,
written while the loss was finite, stays); SIGTERM/SIGINT save a mid-epoch checkpoint and mark
the run ``interrupted`` (checked between steps, between encoder pretraining steps and by the
pair ridge between its iterations); ``resume=True`` continues from ``checkpoints/last.pt`` at the saved
epoch and step (batch order is a function of seed and epoch, so the rest of the epoch is the
same batches). Per-step metrics of wt models go to steps.jsonl every ``log_every`` steps
(auto: every step when an epoch has up to 1,000 steps, else about 1,000 rows per epoch); the
loss is checked for NaN/inf (and SIGTERM for) at every step on CPU and every ``log_every``
steps on CUDA (fewer host syncs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from cre_core import runtime
from cre_core.atomic import clean_json, write_json_atomic, write_text_atomic
from cre_core.errors import CreError
from cre_core.metrics import regression_metrics
from cre_core.models import FitnessModel, SeqEncoder
from cre_core.processes import process_identity
from cre_core.runtime import DistContext, StopRequested
from cre_core.train import data as D
from cre_core.train import runs as R
from cre_core.train.checkpoint import Checkpointer, load_checkpoint
from cre_core.train.config import TrainConfig
from cre_core.train.early_stopping import EarlyStopping
from cre_core.train.evaluate import ceiling_summary, predict_rows, score_test
from cre_core.train.metric_log import MetricLog
from cre_core.train.pair_ridge import AUTO_EMBEDDERS, Stopped, choose_representation, pairs_of, ranks_for
from cre_core.train.rebuild import rebuild_model, run_meta
from cre_core.train.run_lock import RunLock
from cre_core.train.saved_split import check_unchanged, save_split, store_state
from cre_core.workspace import Workspace

LOG = logging.getLogger("cre_core.train")


class Diverged(Exception):
    """The loss became NaN or inf."""


class Engine:
    """Gradient steps of ``model`` on rows of the device tensors ``idx`` (n, K) and ``y`` (n,)."""

    def __init__(
        self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, idx: torch.Tensor,
        y: torch.Tensor, *, batch_size: int, seed: int = 0, amp: bool = True,
        clip: float | None = None, grad_norm: bool = False, dist_info: DistContext | None = None,
        interaction: torch.Tensor | None = None, gene_block: int = 0,
    ) -> None:
        self.model, self.optimizer, self.idx, self.y = model, optimizer, idx, y
        self.interaction = interaction      # measured ε/τ per row (NaN = none), for models that learn it
        self.gene_block = gene_block
        self.core = cast(FitnessModel, model.module if isinstance(model, DistributedDataParallel) else model)
        self.batch_size, self.seed, self.clip = batch_size, seed, clip
        self.dist = dist_info or DistContext()
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
        if self.gene_block:
            return [b[self.dist.rank::world] for b in self._block_batches(order, gen)]
        return [order[s * bs:(s + 1) * bs][self.dist.rank::world] for s in range(self.steps_per_epoch(len(rows)))]

    def _block_batches(self, order: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        """Batches of the pairs between two blocks of ``gene_block`` genes (seeded partition).

        The genes are dealt into random blocks; a batch holds the (shuffled) rows whose genes
        fall in one pair of blocks, cut at ``batch_size`` rows. A step then touches at most
        2·gene_block genes: what a costly gene representation (the sequence encoder) needs,
        since its cost per step grows with the genes of the batch, not with the pairs.
        """
        genes = self.idx[order].clamp(min=0)
        n_genes = int(genes.max()) + 1
        block = torch.randperm(n_genes, generator=gen, device=order.device) // self.gene_block
        n_blocks = int(block.max()) + 1
        pair = block[genes]                                            # (n, K) block per slot
        key = pair.min(1).values * n_blocks + pair.max(1).values       # the rows' block pair
        key_order = torch.randperm(n_blocks * n_blocks, generator=gen, device=order.device)
        grouped = order[torch.argsort(key_order[key], stable=True)]
        counts = torch.bincount(key_order[key], minlength=n_blocks * n_blocks).tolist()
        out, start = [], 0
        for count in counts:
            for s in range(start, start + count, self.batch_size):
                part = grouped[s:min(s + self.batch_size, start + count)]
                if len(part) >= 2 * self.dist.world:        # BatchNorm needs two rows per process
                    out.append(part)
            start += count
        return out

    def steps_per_epoch(self, n_rows: int) -> int:
        bs = self.batch_size
        return n_rows // bs + (1 if n_rows % bs >= 2 * self.dist.world else 0)

    def train_step(self, rows: torch.Tensor, wt_only: bool = False) -> tuple[dict, torch.Tensor | None]:
        """One optimiser step; returns the model's output dict and the gradient norm (or None)."""
        self.model.train()
        with self.autocast():
            if wt_only:
                out = self.model(self.idx[rows[:0]], self.y[rows[:0]], wt_only=True)
            elif self.interaction is not None:
                out = self.model(self.idx[rows], self.y[rows], interaction=self.interaction[rows])
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


def seq_encoder(model: torch.nn.Module) -> SeqEncoder:
    """The sequence encoder of a model trained with --embedder encoder."""
    encoder = cast(FitnessModel, model).representation()
    assert isinstance(encoder, SeqEncoder)
    return encoder


def make_optimizer(model: FitnessModel, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW over the model's parameter groups (each with its weight decay); the encoder's
    first-layer filters at ``--encoder-lr`` × ``--lr`` (seeded filters are refined, not
    overwritten). Fused (one kernel over all parameters) on CUDA, and for DCell on the CPU too:
    there the fused step is a tenth of the plain one at full GO scale (bench/RESULTS.md, "bf16
    products and less bookkeeping"); other models keep the CPU's plain AdamW, whose numbers their
    recorded results were measured with)."""
    fused = device.type == "cuda" or (device.type == "cpu" and config.spec.fused_on_cpu)
    groups = model.param_groups(config.weight_decay)
    if config.uses_windows and config.encoder_lr != 1:
        slow = {id(p) for p in seq_encoder(model).filter_parameters()}
        groups = [part for g in groups for part in (
            {**g, "params": [p for p in g["params"] if id(p) not in slow]},
            {**g, "params": [p for p in g["params"] if id(p) in slow],
             "lr": config.lr * config.encoder_lr})]
        groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=fused)



# --- one run ---------------------------------------------------------------------------------

def train_run(ws: Workspace, config: TrainConfig, run_dir: str | Path | None = None,
              resume: bool = False, echo: Callable[[str], None] | None = None) -> dict | None:
    """Train (or resume) one run; returns the summary on rank 0 (None on other ranks).

    Progress lines go to ``echo``, by default the ``cre_core.train`` logger.
    """
    if config.ensemble > 1:          # K member runs in one folder (cre_core.train.ensemble)
        from cre_core.train.ensemble import train_ensemble

        return train_ensemble(ws, config, run_dir, resume, echo or LOG.info, train_run)
    ctx = runtime.setup(runtime.resolve_device(config.device))
    try:
        return _Run(ws, config, run_dir, resume, ctx, echo or LOG.info).execute()
    finally:
        ctx.close()


def refuse_if_running(folder: Path) -> None:
    """A run folder has one writer: refuse when its status names another live process (one
    launched but not yet holding the lock, or a writer on another host)."""
    status = R.read_json(folder / "status.json") or {}
    state = R.effective_status(status)
    if state in ("running", "queued") and status.get("pid") not in (None, os.getpid()):
        raise CreError(f"run {folder.name} is still {state} in process {status['pid']}: stop it "
                       "first (Stop on the Train page, or kill that process), then resume")


class _Run:
    """One run: sets up the folder and the parts, trains epoch by epoch, scores the test set."""

    def __init__(self, ws: Workspace, config: TrainConfig, run_dir: str | Path | None,
                 resume: bool, ctx: DistContext, echo: Callable[[str], None]) -> None:
        self.ws, self.config, self.resume, self.ctx = ws, config, resume, ctx
        self.echo = echo if ctx.is_main else (lambda _msg: None)
        self.requested_dir = run_dir
        self.lock: RunLock | None = None         # taken by the main process in _setup_folder
        self.resume_ckpt: dict | None = None     # last.pt, read (and checked) before anything changes
        self.before: dict[str, str] = {}         # config.json and status.json as a resume found them
        # where training stands: epoch (completed), step within the next one, its running loss
        # (trained: the epochs are over, a stop came in the pair ridge after them)
        self.position: dict[str, Any] = {"epoch": 0, "epoch_step": 0, "loss_sum": 0.0, "loss_count": 0,
                                         "trained": False}
        self.folder: Path                  # set first thing in execute
        # what a phase chose, for the summary: closed_form (a closed-form model's fit),
        # embedder_choice (--embedder auto), and what the model's post-fit hook did (pair_ridge)
        self.notes: dict[str, Any] = {}

    # -- set-up --
    def execute(self) -> dict | None:
        with runtime.stop_on_signals():
            try:
                return self._execute()
            finally:
                if self.lock is not None:
                    self.lock.release()

    def _execute(self) -> dict | None:
        self.folder = self._setup_folder()      # refusals here change nothing in the folder
        self.log = MetricLog(self.folder, enabled=self.ctx.is_main)
        try:
            self._prepare()
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
            if isinstance(exc, CreError) and self.before and self.ctx.is_main:
                for name, text in self.before.items():     # a refused resume leaves the run as it was
                    write_text_atomic(self.folder / name, text)
            else:
                self._write_status("failed", message=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.log.close()

    def _setup_folder(self) -> Path:
        path = None
        if self.ctx.is_main:
            if self.requested_dir is None:
                if self.resume:
                    raise CreError("--resume needs --run-dir (or a run id)")
                path = R.create_run_dir(self.ws, self.config)
                self.lock = RunLock(path)
                self.lock.acquire()
            else:
                path = Path(self.requested_dir).resolve()
                path.mkdir(parents=True, exist_ok=True)
                self.lock = RunLock(path)
                self.lock.acquire()        # one writer: a second train into this folder stops here
                last = path / "checkpoints" / "last.pt"
                if not self.resume and last.exists():
                    raise CreError(f"{path} already holds a trained run; pass --resume or another --run-dir")
                if self.resume:
                    refuse_if_running(path)
                    if last.exists():
                        self.resume_ckpt = load_checkpoint(last)     # CreError for a bad file, before any change
                    self.before = {n: (path / n).read_text() for n in ("config.json", "status.json")
                                   if (path / n).is_file()}
            (path / "checkpoints").mkdir(exist_ok=True)
            write_json_atomic(path / "config.json", self.config.to_dict())
            status = R.read_json(path / "status.json") or {}
            R.write_status(path, "running", **process_identity(os.getpid()),
                           created=status.get("created", time.time()), started=time.time(),
                           world_size=self.ctx.world, message=None)
        return Path(self.ctx.broadcast_object(str(path) if path else None))

    def _prepare(self) -> None:
        """Data, model (fresh, or rebuilt from the last checkpoint), optimizer and the parts."""
        cfg, ctx = self.config, self.ctx
        self.device = runtime.pick_device(cfg.device, ctx.local_rank)
        t0 = time.perf_counter()
        table, self.split = D.training_rows(self.ws, cfg)
        self.table = table
        self.train_mean = float(table.fitness[self.split.train].mean())
        if cfg.embedder == "auto":
            cfg = self._choose_embedder()
        parts = {"train": self.split.train, "val": self.split.val, "test": self.split.test}
        if ctx.is_main and self.resume:
            check_unchanged(self.folder, table.genes, table.idx, parts)
        ckpt = self._last_checkpoint()
        if ckpt is None:
            if ctx.is_main:
                save_split(self.folder, table.genes, table.idx, parts, store_state(self.ws))
            model, meta, missing = self._new_model()
        else:
            if list(ckpt["meta"]["genes"]) != list(table.genes):
                raise CreError(f"the workspace's genes changed since run {self.folder.name} started: "
                               "it cannot be resumed; start a new run")
            model, meta, missing = rebuild_model(self.ws, ckpt, table.smf, self.device, compute=True), ckpt["meta"], 0
        self.core: FitnessModel = model
        self.idx = torch.from_numpy(table.idx).to(self.device)
        self.y = torch.from_numpy(table.fitness).to(self.device)
        inter = torch.from_numpy(table.interaction).to(self.device) if model.uses_interaction else None
        self.rows = {k: torch.from_numpy(getattr(self.split, k)).to(self.device) for k in ("train", "val", "test")}
        wrapped: torch.nn.Module = model
        if ctx.active and model.trainable:
            ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = DistributedDataParallel(model, device_ids=ids)
        self.optimizer: torch.optim.Optimizer | None = None
        self.engine: Engine | None = None
        if model.trainable:
            self.optimizer = optimizer = make_optimizer(model, cfg, self.device)
            self.engine = Engine(
                wrapped, optimizer, self.idx, self.y, batch_size=max(1, cfg.batch_size // ctx.world) * ctx.world,
                seed=cfg.seed, amp=cfg.amp, clip=cfg.clip, grad_norm=model.wt_model, dist_info=ctx,
                interaction=inter, gene_block=cfg.encoder_block if cfg.uses_windows else 0)
        self.early = EarlyStopping(cfg.patience)
        self.checkpoints = Checkpointer(self.folder, meta, enabled=ctx.is_main)
        if ckpt is not None:
            self._restore(ckpt)
        self.log.open(self.position["epoch"], self.engine.step if self.engine else 0, steps=model.wt_model)
        extra = f", {missing} genes without features" if missing else ""
        used = table.size[np.concatenate([self.split.train, self.split.val, self.split.test])]
        sizes = ", ".join(f"{int((used == k).sum()):,} of {k}" for k in sorted(set(used.tolist())))
        self.echo(
            f"{cfg.model}: {self.split.info['n_rows']:,} gene sets ({sizes}; "
            f"{cfg.split} split: {self.split.info['n_train']:,} train, "
            f"{self.split.info['n_val']:,} val, {self.split.info['n_test']:,} test, "
            f"{self.split.info['dropped']:,} dropped), {table.n_genes:,} genes{extra}, device {self.device}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, data in {time.perf_counter() - t0:.1f} s"
        )
        if cfg.split_file:
            si = self.split.info
            self.echo(f"split file {si['split_file']}: {si['file_rows']:,} rows, {si['file_rows_not_in_store']:,} "
                      f"not in the store; {si['dropped']:,} pairs of the store not in the file (left out)")

    def _choose_embedder(self) -> TrainConfig:
        """--embedder auto: the interaction model's features pair map takes the representation
        whose ridge ε map predicts held-out training pairs best (pair_ridge.choose_representation,
        folds as the split asks); other models take kmer. The run's config names the choice."""
        cfg, table = self.config, self.table
        embedder = "kmer"
        if cfg.uses_features_pair_map:
            tables = {name: torch.from_numpy(D.gene_features(self.ws, dataclasses.replace(cfg, embedder=name),
                                                             table.genes).table)
                      for name in AUTO_EMBEDDERS}
            control = torch.from_numpy(D.gene_features(self.ws, dataclasses.replace(cfg, embedder="random"),
                                                       table.genes).table)
            try:
                choice = self.notes["embedder_choice"] = choose_representation(
                    tables, *pairs_of(table.idx, table.interaction, self.split.train), self.folds_by(),
                    ranks_for(cfg.interaction.rank), cfg.split_seed, runtime.stop_requested, self.echo, control)
                embedder = choice["chosen"]
            except ValueError as exc:
                self.echo(f"--embedder auto: {exc}; using kmer")
            except Stopped as exc:
                self.echo(str(exc))
                raise StopRequested() from exc
        self.config = dataclasses.replace(cfg, embedder=embedder)
        if self.ctx.is_main:
            write_json_atomic(self.folder / "config.json", self.config.to_dict())
        return self.config

    def folds_by(self) -> str:
        """The pair ridge's cross-validation folds ask the run's question: pairs of genes never
        seen (gene split) or pairs at random."""
        return "genes" if self.config.split == "gene" and not self.config.split_file else "pairs"

    def _new_model(self) -> tuple[FitnessModel, dict, int]:
        """A freshly initialised model, its checkpoint meta and the genes without features."""
        cfg, table = self.config, self.table
        features = D.gene_features(self.ws, cfg, table.genes) if cfg.uses_table else None
        windows = D.gene_windows(self.ws, cfg.features, table.genes) if cfg.uses_windows else None
        ontology = None
        if cfg.spec.ontology is not None:
            ontology = cfg.spec.ontology(self.ws, table, self.split.train, cfg, self.device, self.echo)
        torch.manual_seed(cfg.seed)
        in_dim = features.table.shape[1] if features is not None else 0
        model = D.model_from_config(cfg, table.n_genes, in_dim, ontology, table.smf).to(self.device)
        if features is not None:
            model.set_features(torch.from_numpy(features.table))
        if windows is not None:
            model.set_windows(windows.codes)
            if cfg.encoder_init == "enriched":
                seeded = seq_encoder(model).seed_words()
                self.echo(f"encoder: {seeded} of {cfg.encoder_filters} filters start from enriched words")
        model.init_output(self.train_mean)
        meta = run_meta(cfg, table.genes, in_dim, features, ontology, self.train_mean)
        inputs = features or windows
        return model, meta, inputs.missing if inputs is not None else 0

    def _last_checkpoint(self) -> dict | None:
        if not self.resume:
            return None
        if self.resume_ckpt is not None:
            return self.resume_ckpt
        last = self.folder / "checkpoints" / "last.pt"
        if not last.exists():
            self.echo("no checkpoint yet: starting from the beginning")
            return None
        return load_checkpoint(last, map_location=self.device)

    def _restore(self, ckpt: dict) -> None:
        """Optimizer, position, early stopping, clock and RNG as the checkpoint left them."""
        if self.optimizer is not None and ckpt.get("optimizer"):
            self.optimizer.load_state_dict(ckpt["optimizer"])
        for key in self.position:
            self.position[key] = ckpt.get(key, self.position[key])
        self.early.load_state_dict(ckpt)
        self.checkpoints.load_state_dict(ckpt)
        if self.engine is not None:
            self.engine.step = int(ckpt["step"])
        torch.set_rng_state(ckpt["rng"].cpu())
        self.echo(f"resumed from epoch {self.position['epoch'] + 1}, step {self.position['epoch_step']} of that epoch")

    # -- training --
    @property
    def trainer(self) -> Engine:
        """The engine: every model with gradient steps has one (closed-form baselines never ask)."""
        assert self.engine is not None
        return self.engine

    def _fit(self) -> None:
        cfg = self.config
        self.before = {}          # training starts: from here a failure is the run's own
        if self.engine is None:
            self._closed_form_epoch()
            return
        n_steps = self.trainer.steps_per_epoch(len(self.rows["train"]))
        self.log_every = cfg.log_every or (1 if n_steps <= 1000 else math.ceil(n_steps / 1000))
        if self.trainer.step < cfg.spec.warmup_steps(cfg) and self.position["epoch"] == 0:
            self._warmup()
        if cfg.uses_windows and cfg.encoder_pretrain:
            self._pretrain_encoder()
        while self.position["epoch"] < cfg.epochs and not self.position["trained"]:
            epoch = self.position["epoch"]
            t0 = time.perf_counter()
            train_loss = self._train_epoch(epoch)
            stop = False
            if self.ctx.is_main:
                stop = self._end_epoch(epoch, train_loss, time.perf_counter() - t0)
            stop = self.ctx.broadcast_flag(stop, self.device)
            self.position["epoch"] = epoch + 1          # every rank (rank 0 also set it when saving)
            if stop:
                break
        self.position["trained"] = True
        if self.ctx.is_main and cfg.spec.post_fit is not None:
            cfg.spec.post_fit(self)

    def _warmup(self) -> None:
        """The model's warm-up (wt-diff --wt-warmup N): N steps fitting only the wild type to 1.0
        (logged as epoch 0)."""
        while self.trainer.step < self.config.spec.warmup_steps(self.config):
            out, norm = self.trainer.train_step(self.rows["train"][:0], wt_only=True)
            self._check_finite(out["loss"], 0)
            self._log_step(0, out, norm, force=True, phase="warmup")
            if self._stop_requested():
                self.save_last(0, 0)
                raise StopRequested()

    def _pretrain_encoder(self) -> None:
        """--encoder-pretrain N: N epochs on the single mutants of the genes with training pairs (batches of
        2·encoder_block genes), then the encoder is frozen (its vectors cached) for the epochs
        on every set, in batches of --batch-size random sets. Steps count in the engine's step,
        so a resumed run finishes what is left and freezes again."""
        cfg, engine = self.config, self.trainer
        if self.ctx.active:      # DDP cannot drop parameters from its gradient reduction midway
            raise CreError("--encoder-pretrain trains in one process: pass --encoder-pretrain 0 under torchrun")
        singles = self._learnable_singles()
        if not len(singles):
            raise CreError("--encoder-pretrain needs single mutants of genes with training pairs "
                           "among the training sets (or pass 0)")
        size = max(2, min(2 * cfg.encoder_block or cfg.batch_size, cfg.batch_size))
        per_epoch = max(1, len(singles) // size)
        while engine.step < cfg.encoder_pretrain * per_epoch:
            epoch, t0, losses = engine.step // per_epoch, time.perf_counter(), []
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 - 1 - epoch)
            order = singles[torch.randperm(len(singles), generator=gen).to(singles.device)]
            for i in range(engine.step - epoch * per_epoch, per_epoch):
                out, _ = engine.train_step(order[i * size:(i + 1) * size])
                losses.append(out["loss"].detach())
                if self._stop_requested():        # an epoch of pretraining can take minutes
                    self._check_finite(torch.stack(losses), 0)
                    self.save_last(0, 0)
                    raise StopRequested()
            loss = torch.stack(losses)
            self._check_finite(loss, 0)
            self.echo(f"encoder pretraining {epoch + 1}/{cfg.encoder_pretrain} on {len(singles):,} single "
                      f"mutants  train_loss {float(loss.mean()):.5f}  {time.perf_counter() - t0:.1f} s")
            if self._stop_requested():
                self.save_last(0, 0)
                raise StopRequested()
        encoder = seq_encoder(self.core)
        encoder.freeze()
        self.echo(f"encoder frozen: computing the vectors of {encoder.n_genes:,} genes once")
        t0 = time.perf_counter()
        encoder.all()
        self.echo(f"encoder: {encoder.n_genes:,} gene vectors cached in {time.perf_counter() - t0:.1f} s")
        engine.gene_block = 0        # encoding is a lookup now: batches of random sets, as for tables

    def _learnable_singles(self) -> torch.Tensor:
        """The training single mutants of genes that also occur in a training set of two or more:
        what the encoder's pretraining walks. On a real store SMF covers ~5,500 genes and pairs a
        few hundred; the others' singles would only fit SMF, which the SMF-aware models read as
        measured, at 20x the cost (on the demo every gene has pairs, so nothing changes)."""
        train = self.idx[self.rows["train"]]
        single = train[:, 1] < 0
        multi = train[~single]
        paired = torch.zeros(self.table.n_genes + 1, dtype=torch.bool, device=train.device)
        paired[multi[multi >= 0]] = True
        return self.rows["train"][single & paired[train[:, 0]]]

    def _train_epoch(self, epoch: int) -> float:
        batches = self.trainer.epoch_batches(self.rows["train"], epoch)
        start = self.position["epoch_step"]
        loss_sum = torch.tensor(self.position["loss_sum"], dtype=torch.float64, device=self.device)
        count = torch.tensor(float(self.position["loss_count"]), dtype=torch.float64, device=self.device)
        on_cpu = self.device.type == "cpu"
        for i in range(start, len(batches)):
            out, norm = self.trainer.train_step(batches[i])
            loss_sum += out["loss"].detach().double() * len(batches[i])
            count += len(batches[i])
            self._log_step(epoch + 1, out, norm)
            if on_cpu or self.trainer.step % self.log_every == 0 or i == len(batches) - 1:
                self._check_finite(loss_sum, epoch + 1)
                if self._stop_requested():
                    self.save_last(epoch, i + 1, loss_sum, count)
                    raise StopRequested()
                if self.checkpoints.due() and i + 1 < len(batches):
                    self.save_last(epoch, i + 1, loss_sum, count)
        both = self.ctx.sum_(torch.stack([loss_sum, count]))
        self.position.update(epoch_step=0, loss_sum=0.0, loss_count=0)
        return float(both[0] / both[1].clamp(min=1))

    def _log_step(self, epoch: int, out: dict, norm, force: bool = False, phase: str = "train") -> None:
        if not self.core.wt_model or not (force or self.trainer.step % self.log_every == 0):
            return
        self.log.step({
            "step": self.trainer.step, "epoch": epoch, "loss": float(out["loss"].detach()),
            "wt_mean": float(out["wt_mean"]), "wt_loss": float(out["wt_loss"]),
            "grad_norm": None if norm is None else float(norm), "phase": phase,
        })

    def _check_finite(self, value: torch.Tensor, epoch: int) -> None:
        if self.ctx.any_flag(not bool(torch.isfinite(value).all()), self.device):
            raise Diverged(f"non-finite loss at epoch {epoch}, step {self.trainer.step}")

    def _stop_requested(self) -> bool:
        return self.ctx.any_flag(runtime.stop_requested(), self.device)

    def _end_epoch(self, epoch: int, train_loss: float, seconds: float) -> bool:
        """Validate, log, checkpoint; returns True when early stopping says stop (rank 0)."""
        val = self.validate()
        improved = self.early.update(epoch + 1, val["mse"])
        if improved:
            self.checkpoints.save_best(self.core, epoch + 1, val["mse"])
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val["mse"],
               "val_pearson": val["pearson"], "val_spearman": val["spearman"], "val_r2": val["r2"],
               "seconds": seconds, "step": self.trainer.step, "best": improved,
               "lr": self.trainer.optimizer.param_groups[0]["lr"]}
        if self.core.wt_model:
            row["wt_pred"] = self.core.wt_prediction()
        self.log.epoch(row)
        self.position["epoch"] = epoch + 1
        self.save_last(epoch + 1, 0)
        self._write_status("running", epoch=epoch + 1, step=self.trainer.step)
        self.echo(
            f"epoch {epoch + 1}/{self.config.epochs}  train_loss {train_loss:.5f}  val_loss {val['mse']:.5f}  "
            f"val_r {val['pearson']:.3f}  {seconds:.1f} s" + ("  *" if improved else "")
        )
        return self.early.should_stop

    def validate(self) -> dict:
        """The validation set's metrics for the model as it stands (early stopping's input)."""
        amp = self.engine.amp if self.engine else False
        pred = predict_rows(self.core, self.idx, self.rows["val"], self.config.eval_batch_size, amp)
        return regression_metrics(self.y[self.rows["val"]].cpu().numpy(), pred)

    def _closed_form_epoch(self) -> None:
        """Baselines without gradient steps: one 'epoch' of validation, then the test."""
        if not self.ctx.is_main:
            return
        t0 = time.perf_counter()
        self.notes["closed_form"] = self.core.fit(self.table.idx, self.table.interaction, self.split.train,
                                         self.split.val, self.echo)
        train_pred = predict_rows(self.core, self.idx, self.rows["train"], self.config.eval_batch_size)
        train_loss = regression_metrics(self.y[self.rows["train"]].cpu().numpy(), train_pred)["mse"]
        val = self.validate()
        self.early.update(1, val["mse"])
        self.checkpoints.save_best(self.core, 1, val["mse"])
        self.log.epoch({"epoch": 1, "train_loss": train_loss, "val_loss": val["mse"],
                        "val_pearson": val["pearson"], "val_spearman": val["spearman"],
                        "val_r2": val["r2"], "seconds": time.perf_counter() - t0, "best": True})
        self.position["epoch"] = 1
        self.save_last(1, 0)

    # -- files --
    def save_last(self, epoch: int, epoch_step: int, loss_sum=None, count=None) -> None:
        position = dict(self.position, epoch=epoch, epoch_step=epoch_step)
        if loss_sum is not None:
            position["loss_sum"], position["loss_count"] = float(loss_sum), int(count)
        self.checkpoints.save_last({
            "model": self.core.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else {},
            "step": self.engine.step if self.engine else 0, "rng": torch.get_rng_state(),
            **position, **self.early.state_dict(),
        })

    def _write_status(self, status: str, **fields: Any) -> None:
        if self.ctx.is_main:
            R.write_status(self.folder, status, **fields)

    def _finish(self, status: str, **extra) -> dict | None:
        if not self.ctx.is_main:
            return None
        best = self.checkpoints.best_path
        summary = {
            "run_id": self.folder.name, "run_dir": str(self.folder), "status": status,
            **self.config.run_labels(),
            "n_train": len(self.split.train), "n_val": len(self.split.val), "n_genes": self.table.n_genes,
            "split_info": self.split.info, "best_epoch": self.early.best_epoch,
            "epochs_run": self.position["epoch"], "device": str(self.device), "world_size": self.ctx.world,
            **{key: note for key, note in self.notes.items() if note}, **extra,
        }
        if best.exists():
            self.core.load_state_dict(load_checkpoint(best, map_location=self.device)["model"])
            cfg = self.config
            summary.update(score_test(self.core, self.table, self.split.test, self.idx, self.rows["test"],
                                      cfg.eval_batch_size, self.engine.amp if self.engine else False,
                                      self.folder / "predictions.parquet",
                                      smf_input=self.core.reads_measured_smf))
            summary.update(ceiling_summary(self.ws, self.table, self.split.test, summary["by_size"]))
        else:
            summary.update(pearson=None, spearman=None, r2=None, mse=None, n_test=len(self.split.test))
        summary["seconds"] = round(self.checkpoints.seconds(), 2)
        write_json_atomic(self.folder / "summary.json", summary)
        self._write_status(status, epoch=self.position["epoch"], step=self.engine.step if self.engine else 0)
        return clean_json(summary)
