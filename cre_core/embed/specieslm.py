"""The ``specieslm`` embedder: SpeciesLM (Gagneur lab) hidden states, batched (docs/design.md section 2).

Input contract, per window of L bases (1003 upstream, 300 downstream)::

    [CLS] <species> k_0 k_1 ... k_{L-6} [SEP]          L - 2 tokens

with ``k_i`` the stride-1 6-mer starting at base i and ``<species>`` the proxy token
(``candida_glabrata`` by default: S. cerevisiae was held out of SpeciesLM's training). A 6-mer
with a base other than A/C/G/T becomes [UNK], as the authors' tokenizer does. The ``pad_len``
N bases of an edge window touch exactly ``pad_len`` 6-mers; those become [PAD] with attention
mask 0. Upstream the padding is at the 5' start, so the [PAD]s sit between the species token and
the first real 6-mer (the start codon keeps its token position); downstream it is at the 3' end,
so the [PAD]s follow [SEP] and the result equals embedding the shorter window alone.

Output: the mean of the hidden states of layers 8..last (``hidden_states[8:]``, where
``hidden_states[0]`` is the embedding layer's output), then the mean over every token position
whose attention mask is 1 ([CLS], species token and [SEP] included), as the authors computed one
sequence at a time. Batch padding and edge-window [PAD]s never enter the mean.

Fast path: windows sorted by length into batches (length bucketing; equal-length batches need no
padding and no mask, which lets SDPA pick its fused kernels), PyTorch SDPA attention
(``attn_implementation="sdpa"``), ``torch.inference_mode``, bf16 autocast on CUDA, token ids
copied from pinned memory without blocking, pooled vectors kept on the device until the end.

Weights are never downloaded: ``--model`` is a local directory or a hub id already in the
user's hub cache (read with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cre_core.embed.base import REGIONS, Embedder, Progress, Window, check_regions, slug
from cre_core.embed.kmer import encode, kmer_codes
from cre_core.errors import CreError
from cre_core.runtime import resolve_device

if TYPE_CHECKING:
    import torch  # imported at run time inside the functions: torch is slow to import

DEFAULT_MODEL = "gagneurlab/SpeciesLM"
DEFAULT_SPECIES = "candida_glabrata"
REVISIONS = {"upstream": "upstream_species_lm", "downstream": "downstream_species_lm"}
FIRST_LAYER = 8          # hidden_states[8:] = outputs of layers 8..last
K = 6
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
POOLING = "mean(hidden_states[8:]) then mean over unmasked tokens"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_BASE4 = str.maketrans("ACGT", "0123")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


# --- where the weights are ------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSource:
    """One SpeciesLM checkpoint on disk: what to call it and where it is."""

    label: str                  # "gagneurlab/SpeciesLM@upstream_species_lm" or the directory
    path: Path

    @cached_property
    def fingerprint(self) -> str:
        """SHA-1 of the config, vocabulary and weight files: a re-saved model is a new model."""
        digest = hashlib.sha1(POOLING.encode())
        files = sorted(p for p in self.path.iterdir()
                       if p.is_file() and (p.name in ("config.json", "vocab.txt")
                                           or p.suffix in WEIGHT_SUFFIXES))
        for file in files:
            digest.update(file.name.encode())
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
        return digest.hexdigest()

    def config(self) -> dict:
        try:
            return json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise CreError(f"{self.path}: cannot read config.json ({exc})") from exc


def hub_cache_dir() -> Path:
    """The user's Hugging Face hub cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/...)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file()


def _from_hub(repo_id: str, revision: str) -> Path:
    from huggingface_hub import snapshot_download

    cache = hub_cache_dir()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=str(cache),
                                      local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - every failure means "not in the cache"
        folder = cache / f"models--{repo_id.replace('/', '--')}"
        raise CreError(
            f"model {repo_id}@{revision} is not in the hub cache (looked in {folder}); downloads "
            f"are off: fetch it once with `huggingface-cli download {repo_id} --revision "
            f"{revision}`, or pass --model DIR (a model folder, or one holding "
            f"upstream_species_lm/ and downstream_species_lm/)"
        ) from exc


def resolve_models(model: str | os.PathLike | None, regions: Sequence[str]) -> dict[str, ModelSource]:
    """Which checkpoint embeds each region.

    ``model`` may be: a directory with subfolders ``upstream_species_lm``/``downstream_species_lm``
    (each region takes its own); a single model directory (used for every region given); a hub
    id ``owner/name@revision`` (used for every region given) or ``owner/name`` (each region takes
    revision ``<region>_species_lm``), read from the local hub cache only. Default: the hub's
    ``gagneurlab/SpeciesLM``.
    """
    model = str(model) if model else DEFAULT_MODEL
    path = Path(model).expanduser()
    if path.is_dir():
        path = path.resolve()
        if any((path / rev).is_dir() for rev in REVISIONS.values()):
            out = {}
            for region in regions:
                sub = path / REVISIONS[region]
                if not _is_model_dir(sub):
                    raise CreError(f"{path} has no {REVISIONS[region]}/ model folder (with "
                                   f"config.json) for the {region} windows")
                out[region] = ModelSource(str(sub), sub)
            return out
        if _is_model_dir(path):
            return {region: ModelSource(str(path), path) for region in regions}
        raise CreError(f"{path} holds neither a model (config.json) nor upstream_species_lm/ "
                       "and downstream_species_lm/ subfolders")
    if _HUB_ID.match(model) and not model.startswith((".", "/", "~")):
        repo_id, _, revision = model.partition("@")
        out = {}
        for region in regions:
            rev = revision or REVISIONS[region]
            out[region] = ModelSource(f"{repo_id}@{rev}", _from_hub(repo_id, rev))
        return out
    raise CreError(f"--model {model}: no such directory, and not a hub id like "
                   f"{DEFAULT_MODEL}@{REVISIONS['upstream']}")


# --- tokens ---------------------------------------------------------------------------------

class Vocab:
    """SpeciesLM's vocab.txt: 5 special tokens, the 4**6 6-mers, then species tokens."""

    def __init__(self, path: Path) -> None:
        try:
            tokens = [line.strip() for line in path.read_text().splitlines()]
        except OSError as exc:
            raise CreError(f"{path}: cannot read the vocabulary ({exc.strerror or exc})") from exc
        self.path = path
        self.ids = {tok: i for i, tok in enumerate(tokens) if tok}
        missing = [t for t in SPECIAL_TOKENS[:4] if t not in self.ids]
        if missing:
            raise CreError(f"{path}: missing special tokens {', '.join(missing)}")
        self.pad, self.unk, self.cls, self.sep = (self.ids[t] for t in SPECIAL_TOKENS[:4])
        table = np.full(4**K, self.unk, dtype=np.int64)
        found = 0
        for tok, i in self.ids.items():
            if len(tok) == K and set(tok.upper()) <= set("ACGT"):
                table[int(tok.upper().translate(_BASE4), 4)] = i
                found += 1
        if found < 4**K:
            raise CreError(f"{path}: {found:,} of the {4**K:,} 6-mers are in the vocabulary; "
                           "is this a SpeciesLM checkpoint?")
        self.kmer_ids = table
        self.species = [t for t in tokens if t and t not in SPECIAL_TOKENS
                        and not (len(t) == K and set(t.upper()) <= set("ACGT"))]

    def species_id(self, name: str) -> int:
        if name not in self.ids:
            shown = ", ".join(self.species[:8]) + (" ..." if len(self.species) > 8 else "")
            raise CreError(f"species token '{name}' is not in {self.path} (it has: {shown})")
        return self.ids[name]


def tokenize(windows: Sequence[Window], region: str, vocab: Vocab, species: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask (int64, bool; batch x longest) per the module docstring.

    Shorter windows of a batch are padded at the end with [PAD] / mask 0 (batch padding).
    """
    lengths = np.array([len(w.sequence) for w in windows], dtype=np.int64)
    if (lengths < K).any():
        short = windows[int(np.argmax(lengths < K))]
        raise CreError(f"window of {short.gene} has {len(short.sequence)} bases; SpeciesLM needs >= {K}")
    width = int(lengths.max()) - K + 1 + 3
    ids = np.full((len(windows), width), vocab.pad, dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=bool)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        codes = encode([windows[int(i)].sequence for i in rows])
        m = int(length) - K + 1                           # number of 6-mers
        kint, bad = kmer_codes(codes, K)
        kmers = np.where(bad, vocab.unk, vocab.kmer_ids[kint])
        pad = np.minimum([windows[int(i)].pad_len for i in rows], m).astype(np.int64)
        pos = np.arange(m)[None, :]
        block = np.empty((len(rows), m + 3), dtype=np.int64)
        block[:, 0], block[:, 1], block[:, 2 : m + 2], block[:, m + 2] = vocab.cls, species, kmers, vocab.sep
        keep = np.ones((len(rows), m + 3), dtype=bool)
        if region == "upstream":                          # [CLS] sp [PAD]*p kmers [SEP]
            lead = pos < pad[:, None]
            block[:, 2 : m + 2][lead] = vocab.pad
            keep[:, 2 : m + 2][lead] = False
        else:                                             # [CLS] sp kmers [SEP] [PAD]*p
            tpos = np.arange(m + 3)[None, :]
            sep_at = (m + 2 - pad)[:, None]
            block = np.where(tpos == sep_at, vocab.sep, np.where(tpos > sep_at, vocab.pad, block))
            keep = tpos <= sep_at
        ids[rows, : m + 3] = block
        mask[rows, : m + 3] = keep
    return ids, mask


# --- the embedder ---------------------------------------------------------------------------

def device_note() -> str:
    """One line on where SpeciesLM would run here (for the app)."""
    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"GPU: {torch.cuda.get_device_name(0)}" + (f" (x{n}; use torchrun for all)" if n > 1 else "")
    return ("No CUDA GPU is visible: SpeciesLM would run on the CPU, about one window per second "
            "for BERT-base. Run `embed` on a GPU machine (or under torchrun) for a genome.")


class SpeciesLMEmbedder(Embedder):
    """SpeciesLM embeddings of CRE windows; the upstream/downstream models per ``resolve_models``."""

    name = "specieslm"

    def __init__(self, model: str | None = None, regions: Sequence[str] = REGIONS,
                 species: str = DEFAULT_SPECIES, device: str = "auto",
                 batch_size: int | None = None, precision: str = "auto") -> None:
        self.sources = resolve_models(model, regions)
        # the --model argument that finds these weights again (absolute for a folder)
        given = str(model) if model else DEFAULT_MODEL
        self.model_arg = str(Path(given).expanduser().resolve()) if Path(given).expanduser().is_dir() else given
        self.species = species or DEFAULT_SPECIES
        self.device_name = device
        self.batch_size = batch_size
        if precision not in ("auto", "fp32", "bf16"):
            raise CreError(f"precision {precision}: choose auto, fp32 or bf16")
        self.precision = precision
        self._loaded: dict[Path, tuple] = {}

    @classmethod
    def from_options(cls, model: str | None = None, regions: Sequence[str] = REGIONS,
                     species: str | None = None, device: str = "auto", batch_size: int | None = None,
                     precision: str = "auto") -> SpeciesLMEmbedder:
        return cls(model, regions=check_regions(list(regions)), species=species or DEFAULT_SPECIES,
                   device=device, batch_size=batch_size, precision=precision)

    # identity ------------------------------------------------------------------------------
    def source(self, region: str) -> ModelSource:
        if region not in self.sources:
            raise CreError(f"no SpeciesLM model was chosen for the {region} windows")
        return self.sources[region]

    def model_label(self, region: str) -> str:
        return self.source(region).label

    def cache_id(self, region: str) -> str:
        src = self.source(region)
        name = src.label if "@" in src.label else src.path.name
        return f"{slug(name)}__{slug(self.species)}__{src.fingerprint[:12]}"

    def dim(self, region: str) -> int:
        return int(self.source(region).config().get("hidden_size", 768))

    def describe(self, region: str) -> dict:
        return {"path": str(self.source(region).path), "model_arg": self.model_arg,
                "species": self.species,
                "fingerprint": self.source(region).fingerprint, "pooling": POOLING}

    # compute -------------------------------------------------------------------------------
    @cached_property
    def device(self) -> str:
        return resolve_device(self.device_name)

    def load(self, region: str):
        """(model, vocab) for ``region``: the base BERT of the masked LM, eval mode, on the device."""
        src = self.source(region)
        if src.path not in self._loaded:
            import torch

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModelForMaskedLM
            from transformers.utils import logging as hf_logging

            vocab = Vocab(src.path / "vocab.txt")
            hf_logging.disable_progress_bar()
            try:
                mlm = AutoModelForMaskedLM.from_pretrained(
                    src.path, attn_implementation="sdpa", local_files_only=True, dtype=torch.float32)
            except Exception as exc:  # noqa: BLE001 - a bad folder is a user error
                raise CreError(f"cannot load a masked LM from {src.path}: {exc}") from exc
            model = mlm.base_model.eval().to(self.device)
            layers = int(model.config.num_hidden_layers)
            if layers < FIRST_LAYER:
                raise CreError(f"{src.path}: {layers} layers; the embedding needs layers "
                               f"{FIRST_LAYER}..last")
            self._loaded[src.path] = (model, vocab)
        return self._loaded[src.path]

    def default_batch_size(self) -> int:
        return self.batch_size or (64 if self.device.startswith("cuda") else 8)

    def _autocast(self):
        import torch

        cuda = self.device.startswith("cuda")
        if self.precision == "fp32" or (self.precision == "auto" and not cuda):
            return contextlib.nullcontext()
        dtype = torch.bfloat16
        if cuda and not torch.cuda.is_bf16_supported():
            dtype = torch.float16
        return torch.autocast(device_type="cuda" if cuda else "cpu", dtype=dtype)

    def embed(self, windows: Sequence[Window], region: str,
              progress: Progress | None = None) -> np.ndarray:
        import torch

        model, vocab = self.load(region)
        hidden = int(model.config.hidden_size)
        if not windows:
            return np.zeros((0, hidden), dtype=np.float32)
        species = vocab.species_id(self.species)
        tokens = max(len(w.sequence) for w in windows) - K + 4
        if tokens > int(model.config.max_position_embeddings):
            raise CreError(f"windows of {tokens - 3 + K - 1} bases make {tokens} tokens; the model "
                           f"at {self.source(region).path} takes at most "
                           f"{model.config.max_position_embeddings}")
        device = torch.device(self.device)
        cuda = device.type == "cuda"
        # length bucketing: longest first, so the first batch shows the peak memory at once
        order = np.argsort([-len(w.sequence) for w in windows], kind="stable")
        size = self.default_batch_size()
        pooled = []          # per batch, left on the device: no host sync until the end
        done = 0
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                ids, mask = tokenize([windows[i] for i in rows], region, vocab, species)
                ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
                if cuda:
                    ids_t = ids_t.pin_memory().to(device, non_blocking=True)
                    mask_t = mask_t.pin_memory().to(device, non_blocking=True)
                attention = None if mask.all() else mask_t.long()
                with self._autocast():
                    states = model(input_ids=ids_t, attention_mask=attention,
                                   output_hidden_states=True).hidden_states
                pooled.append(pool(states, mask_t))
                del states
                done += len(rows)
                if progress:
                    progress(done, len(windows))
            vectors = torch.cat(pooled).cpu().numpy()
        out = np.empty((len(windows), hidden), dtype=np.float32)
        out[order] = vectors
        return out


def pool(hidden_states: Sequence, mask) -> torch.Tensor:
    """Mean of ``hidden_states[8:]``, then the mean over positions where ``mask`` is true (fp32)."""
    layers = hidden_states[FIRST_LAYER:]
    total = layers[0].float()
    for state in layers[1:]:
        total = total + state.float()
    weights = mask.to(total.dtype)
    summed = (total * weights.unsqueeze(-1)).sum(dim=1)
    return summed / (weights.sum(dim=1, keepdim=True) * len(layers))


# --- a randomly initialised SpeciesLM-shaped model (tests, benchmarks, offline demos) --------

def specieslm_vocab(species: Sequence[str] = (DEFAULT_SPECIES,)) -> list[str]:
    """SpeciesLM's vocabulary layout: 5 special tokens, the 4**6 6-mers (ACGT order), species."""
    import itertools

    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=K)]
    return [*SPECIAL_TOKENS, *kmers, *species]


def save_random_model(path: str | os.PathLike, hidden: int = 768, layers: int = 12,
                      heads: int = 12, intermediate: int | None = None,
                      max_positions: int = 1026, seed: int = 0,
                      species: Sequence[str] = (DEFAULT_SPECIES, "saccharomyces_paradoxus",
                                                "kluyveromyces_lactis")) -> Path:
    """Save a random BertForMaskedLM in the SpeciesLM layout (config, weights, vocab.txt).

    The defaults are BERT-base, SpeciesLM's size; tests pass a tiny ``hidden``. Same seed, same
    weights. Not a trained model: its embeddings carry no biology.
    """
    import torch
    from transformers import BertConfig, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    vocab = specieslm_vocab(species)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate or 4 * hidden,
                        max_position_embeddings=max_positions, pad_token_id=0)
    torch.manual_seed(seed)
    model = BertForMaskedLM(config).eval()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return path
