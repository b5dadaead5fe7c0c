"""Learning-rate schedules: call ``scheduler.step()`` once per epoch, after ``optimizer.step()``.

Each schedule is a formula of the epoch number and of each group's starting learning rate
(``initial_lr``, recorded in the group the first time a scheduler sees it), as in PyTorch:
``last_epoch`` counts the ``step()`` calls, starting at 0 when the scheduler is made.
"""
import math

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]


class LRScheduler:
    """Sets ``group["lr"] = lr_at(initial_lr, last_epoch)`` for every parameter group.

    ``last_epoch=-1`` (default) starts a new schedule; a larger value resumes one, which needs
    ``initial_lr`` in the groups (it is there when the optimizer was loaded from a state dict).
    """

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for i, g in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                               f"a scheduler with last_epoch={last_epoch}")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()                      # epoch last_epoch + 1 (0 for a new schedule)

    def lr_at(self, base_lr, epoch):
        """The learning rate of a group that started at ``base_lr``, at ``epoch``."""
        raise NotImplementedError

    def get_lr(self):
        """The learning rates of the current epoch, one per parameter group."""
        return [self.lr_at(base, self.last_epoch) for base in self.base_lrs]

    def step(self):
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, sd):
        self.last_epoch, self.base_lrs = int(sd["last_epoch"]), list(sd["base_lrs"])


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^⌊epoch / step_size⌋   (decay by gamma every step_size epochs)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2.

    From initial_lr at epoch 0 down to eta_min at epoch T_max (and, as in PyTorch, back up
    again after that: the formula is periodic with period 2·T_max).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
