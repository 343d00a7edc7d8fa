"""Optimizees: batches of functions f(θ) that an optimizer (learned or hand-designed) minimises.

A :class:`Problem` holds a batch of functions that share one parameter tensor θ of shape
``(batch, dim)``, one row per function. Optimizers only ever see θ's gradient, so the learned
optimizer treats every entry of θ as one coordinate (Andrychowicz et al. 2016, section 2.1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from l2l import _checks


class Problem:
    """A batch of optimizee functions with parameters θ of shape ``(batch, dim)``.

    Subclasses implement :meth:`initial_params` and :meth:`loss`; they may override
    :meth:`loss_and_grad` with a closed-form gradient, which is faster than autograd.
    ``step`` lets stochastic problems (minibatches) draw a different function at every step.
    """

    def initial_params(self) -> torch.Tensor:
        """θ_0, shape ``(batch, dim)``."""
        raise NotImplementedError

    def loss(self, theta: torch.Tensor, step: int) -> torch.Tensor:
        """f(θ) of every function in the batch, shape ``(batch,)``, differentiable in θ."""
        raise NotImplementedError

    def loss_and_grad(self, theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(θ), ∇f(θ))``: the loss keeps its graph to θ; the gradient is detached.

        Detaching the gradient is the paper's assumption ∂∇_t/∂φ = 0: the optimizer's
        meta-gradient flows through θ_t but not through second derivatives of f.
        """
        with torch.enable_grad():
            if not theta.requires_grad:
                theta = theta.detach().requires_grad_()
            value = self.loss(theta, step)
            (grad,) = torch.autograd.grad(value.sum(), theta, retain_graph=True)
        return value, grad.detach()

    def stacked_loss_and_grad(self, theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`loss_and_grad` of ``R`` copies of the batch at once: θ ``(R, batch, dim)`` ->
        ``((R, batch), (R, batch, dim))``, both detached.

        Copy ``r`` of a stochastic problem sees the same function f_t as every other copy, so
        ``R`` optimizers can run side by side (:func:`l2l.learned_optimizer.evaluate_many`).
        This default calls :meth:`loss_and_grad` once per copy; problems with a cheaper batched
        form (:class:`MLPProblem`) override it.
        """
        pairs = [self.loss_and_grad(copy, step) for copy in theta]
        return torch.stack([v.detach() for v, _ in pairs]), torch.stack([g for _, g in pairs])

    def stacked_loss(self, theta: torch.Tensor, step: int) -> torch.Tensor:
        """f(θ) of ``R`` copies of the batch, θ ``(R, batch, dim)`` -> ``(R, batch)``, detached."""
        with torch.no_grad():
            return torch.stack([self.loss(copy, step) for copy in theta])


class QuadraticProblem(Problem):
    """f(θ) = ||Wθ − y||² with W ∈ R^{d×d}, y ∈ R^d (Andrychowicz et al. 2016, section 3.1).

    Args:
        W: ``(batch, d, d)`` matrices.
        y: ``(batch, d)`` targets.
        theta0: ``(batch, d)`` starting points.
    """

    def __init__(self, W: torch.Tensor, y: torch.Tensor, theta0: torch.Tensor):
        _checks.tensor_shape("W", W, (None, None, None))
        batch, dim = W.shape[0], W.shape[2]
        _checks.tensor_shape("y", y, (batch, W.shape[1]))
        _checks.tensor_shape("theta0", theta0, (batch, dim))
        self.W, self.y, self.theta0 = W, y, theta0

    def initial_params(self) -> torch.Tensor:
        return self.theta0.clone()

    def _residual(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.bmm(self.W, theta.unsqueeze(-1)).squeeze(-1) - self.y

    def loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        return self._residual(theta).pow(2).sum(dim=-1)

    def loss_and_grad(self, theta: torch.Tensor, step: int = 0):
        """Closed form: ∇f(θ) = 2 Wᵀ(Wθ − y)."""
        residual = self._residual(theta)
        grad = 2 * torch.bmm(self.W.transpose(1, 2), residual.detach().unsqueeze(-1)).squeeze(-1)
        return residual.pow(2).sum(dim=-1), grad


def sample_quadratics(
    batch: int = 128,
    dim: int = 10,
    generator: torch.Generator | int = 0,
    device: torch.device | str = "cpu",
    w_scale: float = 1.0,
) -> QuadraticProblem:
    """A batch of random quadratics: W, y and θ_0 with IID standard Gaussian entries.

    The paper draws W and y IID Gaussian and uses batches of 128 functions in 10 dimensions; it
    does not give θ_0, which is N(0, I) here (DeepMind's released code instead draws W and y
    uniform on [0, 1) and θ_0 ~ N(0, 0.01²)). ``w_scale`` multiplies W (entries
    N(0, w_scale²)), which multiplies the curvature WᵀW by w_scale², and the gradients with it far
    from the minimum, where Wθ outweighs y: the quadratics chapter's test off the training
    distribution (W × 2, W × 0.5). The same generator
    draws the same W up to that factor, and the same y and θ_0.

    Args:
        batch: number of functions, a positive integer (paper: 128).
        dim: the dimension d of θ, a positive integer (paper: 10).
        generator: seed or ``torch.Generator`` for W, y and θ_0 (drawn on the CPU).
        device: where the problem's tensors are put.
        w_scale: the factor on W, a positive finite number (1: the training distribution).

    Returns:
        A :class:`QuadraticProblem` with W ``(batch, dim, dim)``, y and θ_0 ``(batch, dim)``.

    Raises:
        ValueError: ``batch`` or ``dim`` below 1, or ``w_scale`` not a positive finite number.
        TypeError: ``batch`` or ``dim`` not an integer, ``w_scale`` not a number, or ``generator``
            neither an integer nor a ``torch.Generator``.

    References:
        Andrychowicz et al. (2016), Learning to learn by gradient descent by gradient descent,
        section 3.1.
    """
    batch = _checks.positive_int("batch", batch)
    dim = _checks.positive_int("dim", dim)
    w_scale = _checks.positive_float("w_scale", w_scale)
    gen = _checks.generator(generator)
    W = w_scale * torch.randn(batch, dim, dim, generator=gen)
    y = torch.randn(batch, dim, generator=gen)
    theta0 = torch.randn(batch, dim, generator=gen)
    return QuadraticProblem(W.to(device), y.to(device), theta0.to(device))


def quadratic_family(
    batch: int = 128, dim: int = 10, device: torch.device | str = "cpu"
) -> Callable[[torch.Generator], QuadraticProblem]:
    """A sampler ``generator -> QuadraticProblem``, the form :func:`l2l.meta_train` takes.

    Args:
        batch, dim: functions per problem and their dimension, as in :func:`sample_quadratics`.
        device: where each problem's tensors are put.

    Returns:
        A function ``sample(generator)`` that calls :func:`sample_quadratics` with these settings
        (``w_scale=1``); the settings are checked at each call, not here.
    """

    def sample(generator: torch.Generator) -> QuadraticProblem:
        return sample_quadratics(batch, dim, generator, device)

    return sample


_ACTIVATIONS = ("sigmoid", "relu", "tanh")


def _activate(name: str, pre: torch.Tensor) -> torch.Tensor:
    if name == "sigmoid":
        return torch.sigmoid(pre)
    if name == "relu":
        return torch.relu(pre)
    return torch.tanh(pre)


def _activation_slope(name: str, out: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """σ'(pre) written with the layer's output ``out = σ(pre)``."""
    if name == "sigmoid":
        return out * (1 - out)
    if name == "relu":
        return (pre > 0).to(out.dtype)
    return 1 - out.square()


class _KnownGradient(torch.autograd.Function):
    """Returns f(θ) (computed without a graph) whose derivative in θ is the given ∇f(θ)."""

    @staticmethod
    def forward(ctx, theta, value, grad):
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_value):
        (grad,) = ctx.saved_tensors
        return grad_value.unsqueeze(-1) * grad, None, None


class MLPProblem(Problem):
    """Training a multilayer perceptron on minibatches: f_t(θ) = cross-entropy on minibatch t.

    The MNIST optimizee of Andrychowicz et al. (2016, section 3.2): by default one hidden layer
    of 20 sigmoid units (784-20-10), minibatches of 128, a fresh minibatch at every step. Each
    row of θ is one independent run: the flat vector of all weights and biases (per layer
    ``W`` of shape (out, in), row-major, then ``b``), started at N(0, init_std²) as in
    DeepMind's code. Step ``t``'s minibatch is drawn from a generator seeded by the problem's
    seed and ``t``, so it is the same for every optimizer run on this problem, in any order.

    :meth:`loss_and_grad` backpropagates by hand (a few batched matrix products), and its
    loss's derivative in θ is that gradient, so meta-training never rebuilds the MLP's graph;
    :meth:`stacked_loss_and_grad` does the same for several optimizers' copies at once.

    Args:
        images: ``(n, features)`` float inputs; their device is the problem's device.
        labels: ``(n,)`` int64 class labels in ``[0, classes)``.
        hidden: hidden layer sizes, e.g. ``(20,)`` or ``(20, 20)``.
        activation: ``"sigmoid"`` (paper), ``"relu"`` or ``"tanh"``.
        runs: independent runs, the rows of θ.
        minibatch: examples per step.
        classes: output units.
        init_std: standard deviation of the initial weights and biases.
        generator: seed or generator for θ_0 and the minibatch seed.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        hidden: tuple[int, ...] = (20,),
        activation: str = "sigmoid",
        runs: int = 1,
        minibatch: int = 128,
        classes: int = 10,
        init_std: float = 0.01,
        generator: torch.Generator | int = 0,
    ):
        _checks.tensor_shape("images", images, (None, None))
        _checks.tensor_shape("labels", labels, (images.shape[0],))
        if not images.is_floating_point():
            raise TypeError(f"images must be floating point (pixels in [0, 1], as mnist_splits gives them), "
                            f"got {images.dtype}")
        if labels.dtype not in (torch.int64, torch.int32) or labels.device != images.device:
            raise TypeError(f"labels must be integers on the images' device ({images.device}), got "
                            f"{labels.dtype} on {labels.device}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        self.hidden = tuple(_checks.positive_int("hidden size", h) for h in hidden)
        self.runs = _checks.positive_int("runs", runs)
        self.minibatch = _checks.positive_int("minibatch", minibatch)
        self.classes = _checks.positive_int("classes", classes)
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.classes:
            raise ValueError(f"labels must lie in [0, {self.classes}) for classes={self.classes}, got "
                             f"{int(labels.min())}..{int(labels.max())}")
        init_std = _checks.positive_float("init_std", init_std)
        self.images, self.labels, self.activation = images, labels, activation
        sizes = (images.shape[1], *self.hidden, self.classes)
        self.shapes = list(zip(sizes[1:], sizes[:-1]))  # (out, in) per layer
        self.dim = sum(o * i + o for o, i in self.shapes)
        gen = _checks.generator(generator)
        theta0 = init_std * torch.randn(self.runs, self.dim, generator=gen)
        self.theta0 = theta0.to(images.device, images.dtype)
        self.seed = int(torch.randint(2**62, (1,), generator=gen))

    def initial_params(self) -> torch.Tensor:
        return self.theta0.clone()

    def batch_indices(self, step: int) -> torch.Tensor:
        """Example indices of minibatch ``step``, shape ``(runs, minibatch)``."""
        gen = torch.Generator().manual_seed((self.seed + 1_000_003 * int(step)) % 2**63)
        idx = torch.randint(self.images.shape[0], (self.runs, self.minibatch), generator=gen)
        return idx.to(self.images.device)

    def _layers(self, theta: torch.Tensor):
        """Views (W of (..., out, in), b of (..., out)) into θ ``(..., dim)`` for every layer."""
        layers, offset = [], 0
        for out, inp in self.shapes:
            W = theta[..., offset : offset + out * inp].unflatten(-1, (out, inp))
            offset += out * inp
            layers.append((W, theta[..., offset : offset + out]))
            offset += out
        return layers

    def _forward(self, theta: torch.Tensor, step: int):
        _checks.tensor_shape("theta", theta, (self.runs, self.dim))
        idx = self.batch_indices(step)
        h = self.images[idx]
        acts, pres = [h], []
        layers = self._layers(theta)
        for k, (W, b) in enumerate(layers):
            pre = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
            h = pre if k == len(layers) - 1 else _activate(self.activation, pre)
            pres.append(pre)
            acts.append(h)
        return acts, pres, self.labels[idx], layers

    def loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        acts, _, labels, _ = self._forward(theta, step)
        logp = torch.log_softmax(acts[-1], dim=-1)
        return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(dim=-1)

    def loss_and_grad(self, theta: torch.Tensor, step: int = 0):
        """f_t(θ) and its gradient from :meth:`stacked_loss_and_grad` with one copy; the loss's
        derivative in θ is that gradient, so meta-training never rebuilds the MLP's graph."""
        value, grad = self.stacked_loss_and_grad(theta.detach().unsqueeze(0), step)
        return _KnownGradient.apply(theta, value[0], grad[0]), grad[0]

    def stacked_loss_and_grad(self, theta: torch.Tensor, step: int = 0):
        """Closed-form backpropagation for ``R`` copies (θ ``(R, runs, dim)``) on one minibatch:
        ∂f/∂z_L = (softmax(z_L) − onehot(y)) / B, then ∂f/∂W_l = δ_lᵀ h_{l−1}, ∂f/∂b_l = Σ δ_l,
        δ_{l−1} = (δ_l W_l) ⊙ σ'(z_{l−1}).

        The input layer, the largest, is one product per run for all copies at once: the run's
        minibatch ``(B, in)`` against the copies' weights side by side ``(in, R · out)``.
        """
        _checks.tensor_shape("theta", theta, (None, self.runs, self.dim))
        copies = theta.shape[0]
        with torch.no_grad():
            idx = self.batch_indices(step)
            x, labels = self.images[idx], self.labels[idx].expand(copies, -1, -1)  # (runs, B, in)
            layers = self._layers(theta)
            W0, b0 = layers[0]
            out0 = W0.shape[-2]
            shared = W0.permute(1, 3, 0, 2).reshape(self.runs, x.shape[-1], copies * out0)
            pre = (x @ shared).unflatten(-1, (copies, out0)).permute(2, 0, 1, 3) + b0.unsqueeze(2)
            pres, acts = [pre], []
            for W, b in layers[1:]:
                acts.append(_activate(self.activation, pres[-1]))
                pres.append(acts[-1] @ W.transpose(-1, -2) + b.unsqueeze(2))
            logp = torch.log_softmax(pres[-1], dim=-1)  # (R, runs, B, classes)
            value = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(dim=-1)
            delta = logp.exp()
            delta.scatter_add_(-1, labels.unsqueeze(-1), -torch.ones_like(delta[..., :1]))
            delta /= self.minibatch
            pieces = []
            for k in range(len(layers) - 1, 0, -1):
                W, _ = layers[k]
                pieces.append(delta.sum(dim=-2))
                pieces.append((delta.transpose(-1, -2) @ acts[k - 1]).flatten(-2))
                delta = (delta @ W) * _activation_slope(self.activation, acts[k - 1], pres[k - 1])
            pieces.append(delta.sum(dim=-2))
            spread = delta.permute(1, 0, 3, 2).reshape(self.runs, copies * out0, -1)  # (runs, R·out, B)
            pieces.append((spread @ x).unflatten(1, (copies, out0)).transpose(0, 1).flatten(-2))
            grad = torch.cat(pieces[::-1], dim=-1)
        return value, grad

    def stacked_loss(self, theta: torch.Tensor, step: int = 0) -> torch.Tensor:
        return self.stacked_loss_and_grad(theta, step)[0]


def mlp_family(
    images: torch.Tensor, labels: torch.Tensor, **settings
) -> Callable[[torch.Generator], MLPProblem]:
    """A sampler ``generator -> MLPProblem`` on the given split, the form :func:`l2l.meta_train` takes.

    ``settings`` are :class:`MLPProblem`'s keyword arguments (``hidden``, ``activation``, ``runs``, ...).

    Args:
        images, labels: the split, ``(n, features)`` floats and ``(n,)`` integer labels, shared by
            every problem drawn.
        **settings: the other keyword arguments of :class:`MLPProblem`, except ``generator``.

    Returns:
        A function ``sample(generator)`` returning an :class:`MLPProblem` whose θ_0 and
        minibatch seed come from ``generator``; the arguments are checked at each call, not here.

    References:
        Andrychowicz et al. (2016), Learning to learn by gradient descent by gradient descent,
        section 3.2.
    """

    def sample(generator: torch.Generator) -> MLPProblem:
        return MLPProblem(images, labels, generator=generator, **settings)

    return sample
