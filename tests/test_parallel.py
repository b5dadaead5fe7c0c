"""Data parallelism over threads (``tinynet.parallel``): one worker is bit for bit today's step;
N workers give one worker's gradients up to float32 round-off (float64: to 1e-12, so the weighting
is exact) and repeat bit for bit; replicas share nothing mutable (dropout generators, BatchNorm
buffers, ``.grad``); BLAS is held to one thread during the work and put back; bad counts refused."""
import threading

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet import blas, data, models, nn, optim, parallel, random
from tinynet.recipes import TrainSettings
from tinynet.train import evaluate, fit


def batch(n, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (tn.Tensor(rng.normal(size=(n, 1, 28, 28)).astype(dtype)), tn.Tensor(rng.integers(0, 10, n)))


def small_bn_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 13 * 13, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 10))


def weights(model):
    return [p.data.copy() for p in model.parameters()] + [b.data.copy() for b in model.buffers()]


def assert_bit_identical(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def plain_steps(model, batches):
    """Today's training step, the five lines, as ``train_epoch`` ran it before workers existed."""
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return weights(model)


def worker_steps(model, batches, n):
    opt = optim.Adam(model.parameters(), lr=1e-3)
    with parallel.Workers(model, n) as workers:
        for x, y in batches:
            opt.zero_grad()
            workers.forward_backward(x, y, F.cross_entropy)
            opt.step()
    return weights(model)


def fresh(build, seed=0):
    tn.manual_seed(seed)
    return build()


# --- splitting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n,parts,least,sizes", [
    (64, 2, 1, [32, 32]), (65, 2, 1, [33, 32]), (10, 3, 1, [4, 3, 3]), (1, 4, 1, [1]), (3, 8, 1, [1, 1, 1]),
    (3, 2, 2, [3]), (5, 2, 2, [3, 2]), (1, 2, 2, [1]), (7, 1, 1, [7])])
def test_split_is_consecutive_as_equal_as_possible_and_keeps_least(n, parts, least, sizes):
    bounds = parallel.split(n, parts, least)
    assert [b - a for a, b in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == n and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


@pytest.mark.parametrize("bad", [0, -1, 2.0, "2", True, None, parallel.MAX_WORKERS + 1])
def test_a_bad_worker_count_is_refused(bad):
    with pytest.raises(ValueError, match="workers must be a whole number from 1 to"):
        parallel.Workers(models.mlp(), bad)
    with pytest.raises(ValueError):
        fit(models.mlp(), optim.SGD(models.mlp().parameters(), lr=0.1), [], epochs=1, progress=False, log=None,
            workers=bad)


def test_a_numpy_integer_is_a_worker_count():
    assert parallel.check_workers(np.int64(2)) == 2 and type(parallel.check_workers(np.int64(2))) is int


def test_train_epoch_wants_workers_made_for_the_model():
    model = models.mlp()
    with pytest.raises(TypeError, match="parallel.Workers"):
        from tinynet.train import train_epoch
        train_epoch(model, optim.SGD(model.parameters(), lr=0.1), [], workers=2)


def test_available_cores_is_the_affinity():
    assert parallel.available_cores() == len(__import__("os").sched_getaffinity(0))


# --- one worker: bit for bit today's step ------------------------------------------------------

@pytest.mark.parametrize("build", [models.cnn_dropout, small_bn_model], ids=["cnn_dropout", "batchnorm"])
def test_one_worker_is_bit_identical_to_the_plain_step(build):
    batches = [batch(33, seed=s) for s in range(3)]
    expected = plain_steps(fresh(build), batches)
    assert_bit_identical(worker_steps(fresh(build), batches, 1), expected)


def test_fit_with_one_worker_is_bit_identical_to_the_plain_loop():
    x, y = batch(150, seed=3)
    dataset = data.TensorDataset(x.data, y.data)
    model = fresh(models.cnn_dropout)
    loader = data.DataLoader(dataset, 64, shuffle=True, seed=0)     # batches 64, 64, 22
    fit(model, optim.Adam(model.parameters()), loader, epochs=2, progress=False, log=None)   # workers=1: default
    reference = fresh(models.cnn_dropout)
    batches = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        batches += list(loader)
    assert_bit_identical(weights(model), plain_steps(reference, batches))


# --- N workers: one worker's gradients up to round-off -----------------------------------------

def grads_of(model, x, y, n):
    model.zero_grad()
    if n == 0:
        F.cross_entropy(model(x), y).backward()
        return [None if p.grad is None else p.grad.copy() for p in model.parameters()], None
    with parallel.Workers(model, n) as workers:
        loss, predicted = workers.forward_backward(x, y, F.cross_entropy)
    return [None if p.grad is None else p.grad.copy() for p in model.parameters()], (loss, predicted)


@pytest.mark.parametrize("workers", [2, 3, 4])
@pytest.mark.parametrize("n", [64, 65, 7])        # equal parts, unequal parts (the last batch), tiny parts
def test_n_worker_gradients_equal_one_worker_ones_to_float32_round_off(workers, n):
    model = fresh(models.cnn)
    x, y = batch(n)
    expected, _ = grads_of(model, x, y, 0)
    got, (loss, predicted) = grads_of(model, x, y, workers)
    for g, e in zip(got, expected):
        assert np.abs(g - e).max() <= 1e-5 * np.abs(e).max(), np.abs(g - e).max() / np.abs(e).max()
    with tn.no_grad():
        logits = model(x)
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    np.testing.assert_array_equal(predicted, logits.data.argmax(axis=1))


def test_in_float64_the_weighted_sum_is_the_whole_batch_gradient_to_1e_12():
    """Round-off aside, Σ (nᵢ/n)·∇Lᵢ *is* ∇L: in float64 with parts 3, 2, 2 the two agree to 1e-12,
    which a wrong weighting (1/N, or no weights) would miss by far."""
    model = fresh(models.mlp).double()
    x, y = batch(7, dtype=np.float64)
    expected, _ = grads_of(model, x, y, 0)
    got, _ = grads_of(model, x, y, 3)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12 * np.abs(e).max())


def test_gradients_accumulate_into_grad_as_backward_does_and_frozen_ones_stay_none():
    model = fresh(models.mlp)
    model[1].freeze()
    x, y = batch(10)
    once, _ = grads_of(model, x, y, 2)
    with parallel.Workers(model, 2) as workers:
        workers.forward_backward(x, y, F.cross_entropy)        # .grad holds `once`: a second batch adds to it
    for p, g in zip(model.parameters(), once):
        if p.requires_grad:
            np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)
    assert model[1].weight.grad is None and model[1].bias.grad is None


class OneBranch(nn.Module):
    """A model with a layer its forward never calls."""

    def __init__(self):
        super().__init__()
        self.used, self.spare = nn.Linear(784, 10), nn.Linear(3, 3)

    def forward(self, x):
        return self.used(F.flatten(x, 1))


def test_a_parameter_the_loss_does_not_reach_keeps_grad_none_like_backward():
    model = fresh(OneBranch)
    x, y = batch(6)
    with parallel.Workers(model, 2) as workers:
        workers.forward_backward(x, y, F.cross_entropy)
    assert model.spare.weight.grad is None and model.used.weight.grad is not None
    assert tn.autograd.grad(F.cross_entropy(model(x), y), [model.spare.weight], materialize_grads=False) == [None]


# --- N workers: reproducible, and nothing mutable shared ---------------------------------------

@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("build", [models.cnn_dropout, small_bn_model], ids=["cnn_dropout", "batchnorm"])
def test_two_runs_with_the_same_worker_count_are_bit_identical(build, workers):
    batches = [batch(33, seed=s) for s in range(3)]
    first = worker_steps(fresh(build), batches, workers)
    assert_bit_identical(worker_steps(fresh(build), batches, workers), first)
    other_count = worker_steps(fresh(build), batches, 5 - workers)     # other parts, other dropout masks
    assert any(not np.array_equal(a, b) for a, b in zip(first, other_count))


def test_each_worker_draws_its_dropout_from_its_own_generator_and_the_shared_one_once_per_step():
    """Identical halves of a batch through dropout: the two workers' masks differ (own generators,
    not one stream handed out in thread order), and the shared generator advanced by exactly one
    draw, the step's seed."""
    tn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Dropout(0.5), nn.Linear(64, 10))
    x, y = batch(8)
    x = tn.Tensor(np.concatenate([x.data[:4], x.data[:4]]))
    y = tn.Tensor(np.concatenate([y.data[:4], y.data[:4]]))
    seen = {}
    original = F.dropout

    def recording(h, p=0.5, training=True):
        out = original(h, p, training)
        seen[threading.current_thread().name] = out.data.copy()
        return out
    tn.manual_seed(5)
    expected_seed = int(np.random.default_rng(5).integers(2 ** 63))
    import tinynet.nn.layers as layers
    layers.F.dropout, saved = recording, layers.F.dropout
    try:
        with parallel.Workers(model, 2) as workers:
            workers.forward_backward(x, y, F.cross_entropy)
    finally:
        layers.F.dropout = saved
    assert len(seen) == 2
    a, b = seen.values()
    assert not np.array_equal(a == 0, b == 0)
    after = np.random.default_rng(5)
    after.integers(2 ** 63)
    assert random.generator().bit_generator.state == after.bit_generator.state
    assert expected_seed >= 0


def test_thread_generator_is_the_calling_threads_alone():
    tn.manual_seed(0)
    own = np.random.default_rng(42)
    seen = {}

    def other():
        seen["other"] = random.generator()
    with random.thread_generator(own):
        assert random.generator() is own
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["other"] is not own and random.generator() is not own
    np.testing.assert_array_equal(random.uniform(3), np.random.default_rng(0).uniform(size=3).astype(np.float32))


def test_batchnorm_running_statistics_are_the_parts_weighted_by_their_size_and_count_one_step():
    """Parts of 5, 4, 4 images: running_mean moves towards the whole batch's mean (the weighted
    mean of the parts' means), running_var towards Σ (nᵢ/n)·(part i's unbiased variance)."""
    model = fresh(lambda: nn.Sequential(nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(784, 10)))
    x, y = batch(13)
    with parallel.Workers(model, 3) as workers:
        workers.forward_backward(x, y, F.cross_entropy)
    bn, a = model[0], x.data.astype(np.float64)
    parts = [a[0:5], a[5:9], a[9:13]]
    np.testing.assert_allclose(bn.running_mean.data, [0.1 * a.mean()], rtol=1e-5)
    expected_var = 0.9 + 0.1 * sum(len(p) / 13 * p.var(ddof=1) for p in parts)
    np.testing.assert_allclose(bn.running_var.data, [expected_var], rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1


def test_replicas_share_no_buffer_and_write_no_grad_of_their_own_into_the_model():
    model = fresh(small_bn_model)
    with parallel.Workers(model, 2) as workers:
        for replica in workers.replicas:
            for b, c in zip(model.buffers(), replica.buffers()):
                assert c is not b and not np.shares_memory(c.data, b.data)
            for p, q in zip(model.parameters(), replica.parameters()):
                assert q is not p and q.data is p.data
        workers.forward_backward(*batch(12), F.cross_entropy)
        assert all(q.grad is None for r in workers.replicas for q in r.parameters())


def test_a_batch_norm_batch_of_three_is_not_split_into_a_part_of_one():
    model = fresh(small_bn_model)
    with parallel.Workers(model, 2) as workers:
        workers.forward_backward(*batch(3), F.cross_entropy)      # one part of 3: no error
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            workers.forward_backward(*batch(1), F.cross_entropy)  # as with one worker


def test_an_error_in_a_worker_reaches_the_caller_and_the_workers_keep_working():
    model = fresh(models.mlp)
    calls = []

    def failing(logits, y):
        calls.append(threading.current_thread() is threading.main_thread())
        if not calls[-1]:
            raise RuntimeError("worker failed")
        return F.cross_entropy(logits, y)
    with parallel.Workers(model, 2) as workers:
        with pytest.raises(RuntimeError, match="worker failed"):
            workers.forward_backward(*batch(8), failing)
        loss, _ = workers.forward_backward(*batch(8), F.cross_entropy)
    assert np.isfinite(loss) and sorted(calls) == [False, True]


# --- BLAS ---------------------------------------------------------------------------------------

@pytest.mark.skipif(blas.threads() is None, reason="NumPy's BLAS thread count cannot be asked here")
def test_blas_is_one_thread_during_the_work_and_put_back_after():
    before = blas.threads()
    blas.set_threads(2)
    during = []

    def recording(logits, y):
        during.append(blas.threads())
        return F.cross_entropy(logits, y)
    try:
        with parallel.Workers(fresh(models.mlp), 2) as workers:
            workers.forward_backward(*batch(8), recording)
            with blas.limit_threads(1):
                assert blas.threads() == 1
            assert blas.threads() == 2
    finally:
        blas.set_threads(before)
    assert during == [1, 1]


# --- evaluation, fit, settings ------------------------------------------------------------------

def test_evaluate_with_two_workers_gives_one_workers_predictions():
    model = fresh(models.cnn)
    x, y = batch(101)
    loader = data.DataLoader(data.TensorDataset(x.data, y.data), 50)
    one, two = evaluate(model, loader), evaluate(model, loader, workers=2)
    np.testing.assert_array_equal(two["predictions"], one["predictions"])
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-6) and two["accuracy"] == one["accuracy"]
    with parallel.Workers(model, 2) as workers:
        model.train()
        with pytest.raises(ValueError, match="eval mode"):
            workers.evaluate_batch(x, y, F.cross_entropy)


def test_evaluate_batch_runs_a_large_part_in_pieces_and_loses_nothing():
    model = fresh(models.mlp)
    model.eval()
    x, y = batch(2 * parallel.EVAL_CHUNK + 45)                       # parts of 151 and 150: pieces 128 + 23, 128 + 22
    with tn.no_grad():
        logits = model(x)
    with parallel.Workers(model, 2) as workers:
        loss_sum, predicted = workers.evaluate_batch(x, y, F.cross_entropy)
    np.testing.assert_array_equal(predicted, logits.data.argmax(axis=1))
    assert loss_sum == pytest.approx(F.cross_entropy(logits, y, reduction="sum").item(), rel=1e-6)


def test_fit_with_two_workers_learns_as_one_does_and_repeats():
    x, y = batch(256, seed=7)
    labels = (x.data.reshape(256, -1)[:, :392].mean(axis=1) > 0).astype(np.int64)     # a learnable rule
    dataset = data.TensorDataset(x.data, labels)

    def run(workers):
        model = fresh(models.mlp)
        history = fit(model, optim.Adam(model.parameters()), data.DataLoader(dataset, 64, shuffle=True, seed=0),
                      data.DataLoader(dataset, 100), epochs=3, progress=False, log=None, workers=workers)
        return history, weights(model)
    (h1, _), (h2, w2), (h2b, w2b) = run(1), run(2), run(2)
    assert_bit_identical(w2b, w2)
    assert h2[-1]["train_accuracy"] == pytest.approx(h1[-1]["train_accuracy"], abs=0.02)
    assert h2[-1]["test_loss"] == pytest.approx(h1[-1]["test_loss"], rel=1e-3)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, np.int64(2), parallel.MAX_WORKERS + 1])
def test_train_settings_refuse_a_bad_worker_count(bad):
    with pytest.raises(ValueError, match="workers"):
        TrainSettings(workers=bad).check()


def test_train_settings_refuse_workers_on_cupy_and_accept_none_and_one():
    with pytest.raises(ValueError, match="cupy"):
        TrainSettings(workers=2, backend="cupy").check()
    TrainSettings(workers=1, backend="cupy").check()
    TrainSettings(workers=None).check()
