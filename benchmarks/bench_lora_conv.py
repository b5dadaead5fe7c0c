"""How should LoRAConv2d compute its update?  Two thin convolutions vs one merged kernel.

    two convs:  y = base(x) + s · conv1x1(conv(x, A), B)
    merged:     y = conv(x, W + s · (B A).reshape(W.shape))     (one conv; W + ΔW is a non-leaf;
                                                                  what tinynet.nn.LoRAConv2d does)

Times one forward + backward (loss = sum of outputs) per layer shape of the articles' ``cnn``,
batch 64, float32, median of --repeat runs. The machine is shared: numbers are noisy, compare
the ratio within one run.

    .venv/bin/python benchmarks/bench_lora_conv.py [--repeat 7] [--rank 4]
"""
import argparse
import statistics
import time

from common import tn, F, nn
from tinynet.cli.common import int_between


def two_convs_forward(lora, x):
    base = lora.base
    a = lora.lora_A.reshape(lora.rank, lora.in_channels, *base.kernel_size)
    h = F.conv2d(x, a, None, base.stride, base.padding) * lora.scaling     # (N, r, OH, OW)
    return base(x) + F.conv2d(h, lora.lora_B.reshape(lora.out_channels, lora.rank, 1, 1))


def time_it(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int_between(1), default=7)
    ap.add_argument("--rank", type=int_between(1, 64, 4), default=4)
    ap.add_argument("--batch", type=int_between(1, 4096, 64), default=64)
    args = ap.parse_args(argv)
    tn.manual_seed(0)
    shapes = [("conv1 1->32 on 28x28 (input needs no grad)", 1, 32, 28, False),
              ("conv2 32->64 on 14x14 (input needs grad)", 32, 64, 14, True)]
    print(f"rank {args.rank}, batch {args.batch}, median of {args.repeat}; seconds per forward+backward")
    print(f"{'layer':44s} {'two convs':>10s} {'merged':>10s} {'merged/two':>10s}")
    for name, c, oc, hw, x_grad in shapes:
        lora = nn.LoRAConv2d(nn.Conv2d(c, oc, 3, padding=1), rank=args.rank)
        lora.lora_B.data[...] = 0.01                                # any non-zero B
        x = tn.randn(args.batch, c, hw, hw, requires_grad=x_grad)

        def step(forward):
            def run():
                lora.zero_grad()
                forward(x).sum().backward()
            return run
        step(lambda v: two_convs_forward(lora, v))()
        ga, gb = lora.lora_A.grad.copy(), lora.lora_B.grad.copy()
        step(lora)()
        assert abs(ga - lora.lora_A.grad).max() <= 1e-3 * abs(ga).max()      # same gradients
        assert abs(gb - lora.lora_B.grad).max() <= 1e-3 * abs(gb).max()
        t_two = time_it(step(lambda v: two_convs_forward(lora, v)), args.repeat)
        t_merged = time_it(step(lora), args.repeat)
        print(f"{name:44s} {t_two:10.4f} {t_merged:10.4f} {t_merged / t_two:10.2f}")


if __name__ == "__main__":
    main()
