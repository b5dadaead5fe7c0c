"""``tinynet summary MODEL|all``: a model's layers, output shapes and parameter counts."""
from .. import models

HELP = "print a model's layers, output shapes and parameter counts"


def add_arguments(p):
    p.add_argument("model", choices=list(models.MODELS) + ["all"], help="a model name, or all")
    p.add_argument("--markdown", action="store_true", help="one Markdown table row per model (for the README)")


def run(args):
    names = list(models.MODELS) if args.model == "all" else [args.model]
    if args.markdown:
        print("| model | parameters | layers and their output shapes (ReLU and Dropout keep the shape) |\n"
              "|---|---:|---|")
    for name in names:
        model = models.build(name)
        if args.markdown:
            rows = [f"{layer} **{'×'.join(map(str, out))}**" for _, layer, out, _ in models.summary(model)
                    if layer not in ("ReLU", "Flatten") and not layer.startswith("Dropout")]
            print(f"| `{name}` | {model.num_parameters():,} | " + " → ".join(rows) + " |")
        else:
            print(models.format_summary(model, name) + ("\n" if len(names) > 1 else ""))
    return 0
