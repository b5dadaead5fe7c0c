"""``tinynet serve [CKPT …]``: the local draw-a-digit page (``tinynet.serve``) for one or more checkpoints."""
import argparse
import errno
import os
import sys

from ..predictor import newest_checkpoint
from .common import CLIError, _number, path

HELP = "start the local draw-a-digit page: watch a model's feature maps and saliency as you draw"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def port(text):
    return _number(text, int, "a port number such as 8000", lambda v: 0 <= v <= 65535,
                   "must be in 0..65535 (0: any free port), got {value}")


def host(text):
    """A host name or address: not empty (``--host ''`` would mean every address of the computer)."""
    if not text or text != text.strip() or any(c in text for c in " /\t\n\r"):
        raise argparse.ArgumentTypeError(f"expected a host name or address such as 127.0.0.1, got {text!r}")
    return text


def add_arguments(p):
    p.add_argument("checkpoints", nargs="*", type=path, metavar="CKPT",
                   help="checkpoint.npz files to compare on the page (default: the newest run under --runs)")
    p.add_argument("--runs", type=path, default="runs", metavar="DIR", help="where to look for runs (default: runs)")
    p.add_argument("--host", type=host, default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=port, default=8000, help="default 8000; 0 picks a free one")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")


def checkpoints(args):
    """The checkpoints asked for, or the newest run's (said on stderr); CLIError when there is none."""
    if args.checkpoints:
        for ckpt in args.checkpoints:
            if not os.path.isfile(ckpt):
                raise CLIError(f"checkpoint {ckpt} " + ("is not a file" if os.path.exists(ckpt) else "does not exist"))
        return args.checkpoints
    newest = newest_checkpoint(args.runs)
    if newest is None:
        raise CLIError(f"no checkpoint given and no run under {args.runs}/: train one first with `make train` "
                       "(or tinynet train --out runs/NAME), or name a checkpoint.npz")
    print(f"tinynet serve: using the newest run, {newest}", file=sys.stderr)
    return [newest]


def start(paths, host, port):
    """The running server's object (not yet serving); one-line CLIErrors for a busy port or a bad host."""
    from .. import serve
    try:
        predictors = serve.load_predictors(paths)
    except ValueError as e:
        raise CLIError(str(e)) from None
    except OSError as e:              # unreadable (permissions, a disk error)
        raise CLIError(f"cannot read {e.filename or 'a checkpoint'}: {e.strerror or e}") from None
    try:
        return serve.DigitServer((host, port), predictors)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise CLIError(f"port {port} on {host} is in use (another tinynet serve?); choose another with --port "
                           "(0: any free port)") from None
        raise CLIError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def run(args):
    paths = checkpoints(args)
    if args.host not in LOCAL_HOSTS and not args.host.startswith("127."):
        print(f"tinynet serve: warning: --host {args.host} lets other computers reach the page and its API; "
              "anyone on the network can use it", file=sys.stderr)
    server = start(paths, args.host, args.port)
    try:
        print(f"tinynet serve: {server.url} (models: {', '.join(server.predictors)}); Ctrl-C stops it", flush=True)
        if args.open:
            import webbrowser
            if not webbrowser.open(server.url):
                print("tinynet serve: no web browser found: open the address above yourself", file=sys.stderr)
        server.serve_forever()
    finally:
        server.server_close()
    return 0
