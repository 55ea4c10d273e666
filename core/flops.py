"""FLOPs and MACs of component calls, attention included, counted on the meta device and cached.

What is counted: multiply-accumulates (MACs) of matrix products and convolutions — every linear layer,
attention's QK^T and AV products (``scaled_dot_product_attention`` in all its backends, and the
``baddbmm``/``bmm`` path of diffusers' classic attention processors), convolutions and transposed
convolutions. FLOPs = 2 x MACs; every name says which. Elementwise work (bias, norms, activations,
softmax) is not counted, as in torch's ``FlopCounterMode`` and in published per-pass figures.

How: ptflops' aten backend (a ``TorchDispatchMode`` that sees every aten op, whatever Python path led to
it) with hooks added for the ops it does not count (SDPA's fused kernels, ``baddbmm``) and its bias
counting left out. Counting runs on a *meta twin* of a component (built from its config: no weights, no
device memory) on meta copies of the inputs the pipeline actually passed, so a 12B transformer is counted
in about a second with no GPU work; small integer/bool inputs (token ids, masks) keep their values
(`ValuedMeta`) so that data-dependent code (mask checks, caption lengths) follows the real path.
Each (model, component, method, config, input signature) is counted once and cached (in memory and in
the store's ``FlopCount`` table). Longer than 400 lines: the counting mode, its extra op handlers, the meta
twins and the cache are one mechanism and are tested as one (tests/test_flops.py).
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from ptflops.aten_engine import FlopCounterMode as _PtflopsMode
from ptflops.aten_ops import bmm_flop, matmul_flop

from core.store import FlopCount, get_flop_count, put_flop_count, session_scope

log = logging.getLogger(__name__)

aten = torch.ops.aten

# Integer/bool tensors up to this many elements keep their values on the meta device (ids, masks, lengths).
VALUE_NUMEL_LIMIT = 1 << 16


# ---- MAC rules (inputs, outputs) -> MACs --------------------------------------------------------------
def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def addmm_macs(inputs, outputs) -> int:
    """``addmm(bias, x, w)``: x [n, k] @ w [k, m] → n*k*m (the bias add is elementwise: not a MAC)."""
    x, w = inputs[1], inputs[2]
    return int(x.shape[0]) * int(x.shape[1]) * int(w.shape[1])


def baddbmm_macs(inputs, outputs) -> int:
    """``baddbmm(c, a, b)``: a [b, n, k] @ b [b, k, m] → b*n*k*m (diffusers' AttnProcessor scores)."""
    a, b = inputs[1], inputs[2]
    return int(a.shape[0]) * int(a.shape[1]) * int(a.shape[2]) * int(b.shape[2])


def conv_macs(inputs, outputs) -> int:
    """Convolutions: batch x weight elements x output positions (input positions when transposed)."""
    x, w = inputs[0], inputs[1]
    transposed = bool(inputs[6]) if len(inputs) > 6 else False
    out = outputs[0]
    positions = (x.shape if transposed else out.shape)[2:]
    return int(x.shape[0]) * _prod(w.shape) * _prod(positions)


def _attention_macs(q, k, v, *, heads_last: bool) -> int:
    """QK^T and AV of one attention call: batch*heads*Lq*Lk*(d_qk + d_v) MACs.

    Layout [B, H, L, D] for the SDPA ops, [B, L, H, D] for the ``_flash/_efficient_attention_forward`` ops.
    With grouped-query attention the query's head count is the one that does the work.
    """
    if heads_last:  # [B, L, H, D]
        b, lq, h, d = q.shape
        lk, dv = k.shape[1], v.shape[-1]
    else:  # [..., H, L, D]
        b, h = _prod(q.shape[:-3]), q.shape[-3] if q.dim() >= 3 else 1
        lq, d = q.shape[-2], q.shape[-1]
        lk, dv = k.shape[-2], v.shape[-1]
    return int(b) * int(h) * int(lq) * int(lk) * (int(d) + int(dv))


def sdpa_macs(inputs, outputs) -> int:
    return _attention_macs(inputs[0], inputs[1], inputs[2], heads_last=False)


def sdpa_heads_last_macs(inputs, outputs) -> int:
    return _attention_macs(inputs[0], inputs[1], inputs[2], heads_last=True)


def _ops(*names: str) -> list:
    out = []
    for name in names:
        op = getattr(aten, name, None)
        if op is not None:
            out.append(op)
    return out


# ptflops' aten mapping covers mm, matmul, addmm, bmm and convolution; these replace or extend it.
EXTRA_HOOKS: dict[Any, Callable] = {
    aten.mm: matmul_flop,
    aten.matmul: matmul_flop,
    aten.bmm: bmm_flop,
    aten.addmm: addmm_macs,
    aten.baddbmm: baddbmm_macs,
    **{op: addmm_macs for op in _ops("_addmm_activation")},
    **{op: conv_macs for op in _ops("convolution", "_convolution", "cudnn_convolution",
                                    "cudnn_convolution_transpose", "mkldnn_convolution", "miopen_convolution")},
    # scaled_dot_product_attention: on meta it decomposes into bmm (counted above); on CPU/GPU it runs one of
    # these fused kernels, which neither ptflops backend counts by default.
    **{op: sdpa_macs for op in _ops(
        "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_fused_attention_overrideable")},
    **{op: sdpa_heads_last_macs for op in _ops("_flash_attention_forward", "_efficient_attention_forward")},
}


class MacCounter(_PtflopsMode):
    """ptflops' aten-level counter (MACs) with attention and ``baddbmm`` added, bias adds left out."""

    def __init__(self):
        super().__init__(module=None, verbose=False, print_per_layer_stat=False,
                         output_params={"print_params": {}, "serialize_params": {}}, custom_hooks=EXTRA_HOOKS)

    @property
    def macs(self) -> int:
        if self.complexity is not None:
            return int(self.complexity)
        return int(sum(self.flop_counts["Global"].values()))

    def by_op(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.flop_counts["Global"].items()}


@contextlib.contextmanager
def count_macs() -> Iterator[MacCounter]:
    """``with count_macs() as c: model(x)`` → ``c.macs`` (FLOPs = 2 x MACs)."""
    counter = MacCounter()
    with counter:
        yield counter


def torch_flop_count(fn: Callable[[], Any]) -> int:
    """FLOPs of ``fn()`` by torch's own ``FlopCounterMode`` (the cross-check; FLOPs = 2 x MACs)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


# ---- meta tensors that keep small integer values -------------------------------------------------
def _values_of(x):
    if isinstance(x, ValuedMeta):
        return x._values
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise _NoValues
        return x
    if isinstance(x, torch.device) and x.type == "meta":
        return torch.device("cpu")
    if isinstance(x, str) and x == "meta":
        return "cpu"
    if isinstance(x, (list, tuple)):
        return type(x)(_values_of(v) for v in x) if not hasattr(x, "_fields") else type(x)(*(_values_of(v) for v in x))
    if isinstance(x, dict):
        return {k: _values_of(v) for k, v in x.items()}
    return x


class _NoValues(Exception):
    pass


_VALUE_READERS = {torch.Tensor.tolist, torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.__int__,
                  torch.Tensor.__float__, torch.Tensor.__index__, torch.Tensor.numpy, torch.Tensor.cpu}


class ValuedMeta(torch.Tensor):
    """A meta tensor that also carries the (small) integer or bool values it stands for.

    Ops on it run on meta; where every tensor argument has values, the op also runs on the values, so
    ``mask.sum(1).tolist()``, ``if mask.all():`` and the like follow the path the real call took.
    """

    _values: torch.Tensor

    @staticmethod
    def __new__(cls, values: torch.Tensor):
        values = values.detach().cpu()
        meta = torch.empty(values.shape, dtype=values.dtype, device="meta")
        out = torch.Tensor._make_subclass(cls, meta)
        out._values = values
        return out

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ValuedMeta({self._values!r})"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _VALUE_READERS:
            return func(*_values_of(args), **_values_of(kwargs))
        # 0-dim valued tensors used as sizes, indices or slice bounds become the numbers they hold
        args = (args[0], *_scalarize(tuple(args[1:]))) if args else args
        kwargs = _scalarize(kwargs)
        try:
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **kwargs)
        except (RuntimeError, NotImplementedError):
            # ops whose output shape depends on values (repeat_interleave without output_size: Qwen2-VL's vision
            # tower over an edit's source) run on the values alone; their result is a meta tensor that keeps them
            try:
                vargs, vkwargs = _values_of(args), _values_of(kwargs)
            except _NoValues:
                raise
            with torch._C.DisableTorchFunctionSubclass():
                vout = func(*vargs, **vkwargs)
            return _as_valued(vout)
        try:
            vargs, vkwargs = _values_of(args), _values_of(kwargs)
        except _NoValues:
            return out
        try:
            with torch._C.DisableTorchFunctionSubclass():
                vout = func(*vargs, **vkwargs)
        except Exception:  # values could not follow: the meta result stands alone
            return out
        return _attach(out, vout, vargs)

    __torch_dispatch__ = torch._C._disabled_torch_dispatch_impl


def _as_valued(x):
    """A result computed on values alone → valued meta tensors (tensors), as it is (anything else)."""
    if isinstance(x, torch.Tensor):
        return ValuedMeta(x)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_as_valued(v) for v in x)
    return x


def _scalarize(x):
    if isinstance(x, ValuedMeta) and x.dim() == 0:
        return x._values.item()
    if isinstance(x, slice):
        return slice(_scalarize(x.start), _scalarize(x.stop), _scalarize(x.step))
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(_scalarize(v) for v in x)
    if isinstance(x, list):
        return [_scalarize(v) for v in x]
    if isinstance(x, dict):
        return {k: _scalarize(v) for k, v in x.items()}
    return x


def _attach(out, vout, vargs):
    if isinstance(out, torch.Tensor) and out.device.type == "meta":
        if isinstance(vout, torch.Tensor) and tuple(vout.shape) == tuple(out.shape) and vout.device.type == "cpu":
            # in-place ops return their (already valued) input
            if isinstance(out, ValuedMeta):
                out._values = vout
                return out
            wrapped = torch.Tensor._make_subclass(ValuedMeta, out)
            wrapped._values = vout
            return wrapped
        return out
    if isinstance(out, (tuple, list)) and isinstance(vout, (tuple, list)) and len(out) == len(vout):
        items = [_attach(o, v, vargs) for o, v in zip(out, vout)]
        try:
            return type(out)(items) if not hasattr(out, "_fields") else type(out)(*items)
        except TypeError:
            return out
    return out


# ---- input specs, signatures and meta copies ---------------------------------------------------------
@dataclass(frozen=True)
class TensorSpec:
    """What a tensor argument was: shape, dtype and, for small integer/bool tensors, its values."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    values: Any = None  # a (device) copy of a small integer/bool tensor, read after the call

    def meta(self) -> torch.Tensor:
        if self.values is not None:
            return ValuedMeta(self.values)
        return torch.empty(self.shape, dtype=self.dtype, device="meta")

    def sig(self) -> str:
        text = f"T{list(self.shape)}:{str(self.dtype).replace('torch.', '')}"
        if self.values is not None:
            vals = self.values.detach().cpu()
            if vals.dtype == torch.bool or (vals.numel() and int(vals.min()) >= 0 and int(vals.max()) <= 1):
                # mask-like: what it keeps changes the work (caption lengths); ids and steps do not
                rows = vals.reshape(vals.shape[0], -1).to(torch.int64).sum(-1).tolist() if vals.dim() >= 2 else None
                if rows is not None:
                    text += f"|kept{rows}"
        return text


def _is_small_int(t: torch.Tensor) -> bool:
    return (not t.is_floating_point() and not t.is_complex() and t.numel() <= VALUE_NUMEL_LIMIT
            and t.device.type != "meta" and t.dim() >= 1)


def spec_tree(x: Any, *, keep_values: bool = True) -> Any:
    """Replace every tensor in an argument tree by its `TensorSpec` (cheap: no device sync, no copy to host;
    small integer/bool tensors are cloned on their device and read only later)."""
    if isinstance(x, torch.Tensor):
        values = x.detach().clone() if keep_values and _is_small_int(x) else None
        return TensorSpec(tuple(x.shape), x.dtype, values)
    if isinstance(x, (list, tuple)):
        items = [spec_tree(v, keep_values=keep_values) for v in x]
        if hasattr(x, "_fields"):
            return type(x)(*items)
        return type(x)(items) if isinstance(x, tuple) and type(x) is not tuple else (tuple(items) if isinstance(x, tuple) else items)
    if isinstance(x, dict):
        return type(x)((k, spec_tree(v, keep_values=keep_values)) for k, v in x.items()) if type(x) is not dict \
            else {k: spec_tree(v, keep_values=keep_values) for k, v in x.items()}
    return x


def meta_tree(x: Any) -> Any:
    """A spec tree (or a tree of real tensors) → the same tree on the meta device."""
    if isinstance(x, TensorSpec):
        return x.meta()
    if isinstance(x, torch.Tensor):
        if _is_small_int(x):
            return ValuedMeta(x)
        return torch.empty(x.shape, dtype=x.dtype, device="meta")
    if isinstance(x, (list, tuple)):
        items = [meta_tree(v) for v in x]
        if hasattr(x, "_fields"):
            return type(x)(*items)
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, dict):
        return {k: meta_tree(v) for k, v in x.items()}
    return x


def signature(args: Any, kwargs: Any) -> str:
    """A stable text of an argument tree: tensors by shape and dtype (and what masks keep), scalars by
    value (floats by type: timesteps and scales change per step, the work does not)."""

    def walk(x) -> str:
        if isinstance(x, TensorSpec):
            return x.sig()
        if isinstance(x, torch.Tensor):
            return spec_tree(x).sig()
        if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
            return repr(x)
        if isinstance(x, float):
            return "float"
        if isinstance(x, (list, tuple)):
            return "(" + ",".join(walk(v) for v in x) + ")"
        if isinstance(x, dict):
            return "{" + ",".join(f"{k}:{walk(v)}" for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))) + "}"
        if isinstance(x, torch.dtype):
            return str(x)
        if isinstance(x, torch.Generator):
            return "gen"
        return type(x).__name__

    return walk(args) + walk(kwargs)


# ---- meta twins ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    if dtype.is_floating_point:
        torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def config_dict(module: torch.nn.Module) -> dict | None:
    cfg = getattr(module, "config", None)
    if cfg is None:
        return None
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    return dict(cfg)


def config_hash(module: torch.nn.Module) -> str:
    cfg = config_dict(module)
    if cfg is None:  # no config: the parameter shapes stand for the architecture
        text = ";".join(f"{n}:{list(p.shape)}" for n, p in module.named_parameters())
    else:
        cfg = {k: v for k, v in cfg.items() if k not in ("_name_or_path", "_commit_hash", "transformers_version",
                                                          "_diffusers_version", "torch_dtype", "dtype",
                                                          "_attn_implementation_autoset")}
        text = json.dumps(cfg, sort_keys=True, default=str)
    return hashlib.sha1(f"{type(module).__name__}|{text}".encode()).hexdigest()[:12]


def build_meta_twin(module: torch.nn.Module) -> torch.nn.Module:
    """The same architecture on the meta device (no weights): from the config when there is one."""
    dtype = module_dtype(module)
    cls = type(module)
    with torch.device("meta"), default_dtype(dtype):
        twin = None
        try:
            from diffusers import ModelMixin

            if isinstance(module, ModelMixin):
                twin = cls.from_config(module.config)
        except Exception as exc:  # pragma: no cover - fall through to a copy
            log.debug("meta twin of %s from config failed: %s", cls.__name__, exc)
        if twin is None:
            try:
                from transformers import PreTrainedModel

                if isinstance(module, PreTrainedModel):
                    twin = cls._from_config(copy.deepcopy(module.config), dtype=dtype)
            except Exception as exc:  # pragma: no cover
                log.debug("meta twin of %s from config failed: %s", cls.__name__, exc)
    if twin is None:
        twin = copy.deepcopy(module).to("meta")
    if getattr(module, "config", None) is not None and hasattr(module.config, "_attn_implementation"):
        try:
            twin.config._attn_implementation = module.config._attn_implementation
        except Exception:  # pragma: no cover
            pass
    if any(p.is_floating_point() and p.dtype != dtype for p in twin.parameters()):
        twin = twin.to(dtype)
    return twin.eval()


# ---- patches for code that reads values the meta device does not have -----------------------------------
def _is_meta_device(device) -> bool:
    return device is not None and torch.device(device).type == "meta"


class _ValuedFactories(torch.overrides.TorchFunctionMode):
    """Integer tensors made from Python numbers on meta (``torch.tensor([h, w], device=meta)``, integer
    ``arange``) keep their values, so that code reading them back (sizes, lengths) runs."""

    FACTORIES = (torch.tensor, torch.as_tensor, torch.arange)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.FACTORIES and _is_meta_device(kwargs.get("device")) and not any(
                isinstance(a, torch.Tensor) for a in args):
            try:
                values = func(*args, **{**kwargs, "device": "cpu"})
            except Exception:
                return func(*args, **kwargs)
            if not values.is_floating_point() and not values.is_complex() and values.numel() <= VALUE_NUMEL_LIMIT:
                return ValuedMeta(values)
        return func(*args, **kwargs)


@contextlib.contextmanager
def counting_patches() -> Iterator[None]:
    """Make data-dependent code paths countable on meta, without changing what they compute:
    MoE routing (HiDream) runs every token through `top_k` experts, as it does in inference; integer
    tensors made from Python numbers keep their values."""
    undo: list[Callable[[], None]] = []
    mode = _ValuedFactories()
    mode.__enter__()
    undo.append(lambda: mode.__exit__(None, None, None))
    try:
        from diffusers.models.transformers import transformer_hidream_image as hd

        original = hd.MOEFeedForwardSwiGLU.moe_infer

        def moe_infer(self, x, flat_expert_indices, flat_expert_weights):
            if x.device.type != "meta":
                return original(self, x, flat_expert_indices, flat_expert_weights)
            # each token goes to num_activated_experts experts of equal shape: the same MACs as the real routing
            routed = x.repeat_interleave(self.num_activated_experts, dim=0)
            self.experts[0](routed)
            return torch.zeros_like(x)

        hd.MOEFeedForwardSwiGLU.moe_infer = moe_infer
        undo.append(lambda: setattr(hd.MOEFeedForwardSwiGLU, "moe_infer", original))
    except (ImportError, AttributeError):  # pragma: no cover - older diffusers
        pass
    try:
        yield
    finally:
        for fn in reversed(undo):
            fn()


# ---- counting one call ---------------------------------------------------------------------------------
@dataclass
class CallCount:
    macs: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> int:
        return 2 * self.macs


def count_call(module: torch.nn.Module, method: str, args: Any = (), kwargs: Any = None) -> tuple[CallCount, Any]:
    """MACs of ``module.<method>(*args, **kwargs)`` on the meta device; returns (count, meta output).

    ``module`` should live on meta (a meta twin); ``args``/``kwargs`` may be spec trees or real tensors.
    """
    margs, mkwargs = meta_tree(args), meta_tree(kwargs or {})
    with torch.inference_mode(False), torch.no_grad(), counting_patches(), count_macs() as counter:
        out = getattr(module, method)(*margs, **mkwargs)
    return CallCount(counter.macs, counter.by_op()), out


class FlopCache:
    """Counts per (model, component, method, config, signature): in memory, then in the store."""

    def __init__(self, db=None):
        self._db = db  # the process's store handle (core.store.open_store); None: in memory only
        self._memory: dict[str, CallCount] = {}
        self._lock = threading.Lock()

    def engine(self):
        return self._db

    @staticmethod
    def key(model_key: str, component: str, method: str, cfg_hash: str, sig: str) -> str:
        digest = hashlib.sha1(f"{cfg_hash}|{sig}".encode()).hexdigest()[:20]
        return f"{model_key}|{component}.{method}|{digest}"

    def get(self, key: str) -> CallCount | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        db = self.engine()
        if db is None:
            return None
        with session_scope(db, read_only=True) as session:
            row = get_flop_count(session=session, key=key)
        if row is None:
            return None
        count = CallCount(int(row.macs))
        with self._lock:
            self._memory[key] = count
        return count

    def put(self, key: str, count: CallCount, *, model_key: str, component: str, shapes: str) -> None:
        with self._lock:
            self._memory[key] = count
        db = self.engine()
        if db is None:
            return
        try:
            with session_scope(db) as session:
                put_flop_count(session=session, count=FlopCount(
                    key=key, model_key=model_key, component=component, shapes=shapes[:4000],
                    flops=float(count.flops), macs=float(count.macs)))
        except Exception as exc:  # pragma: no cover
            log.warning("FLOP cache: could not store %s: %s", key, exc)
