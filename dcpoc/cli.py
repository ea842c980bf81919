"""Command line: `python -m dcpoc COMMAND`. Bad input exits non-zero with one line, never a traceback."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

from .costs import PriceError
from .config import ARCHS, DEVICES, PRESETS, ConfigError, config_keys, make_config
from .data import CorpusError, load_corpus

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, CorpusError, PriceError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dcpoc", description="DCFormer proof-of-concept workbench.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train one model in the foreground, recording into the database",
                       epilog="--set keys: " + ", ".join(config_keys()))
    p.add_argument("--arch", choices=ARCHS, help="transformer (Transformer++) or dcformer")
    p.add_argument("--preset", default="cpu-demo", help=f"one of {', '.join(PRESETS)}")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument("--seed", type=int, help="random seed (default 1)")
    p.add_argument("--corpus", help="pydoc, stdlib or text:PATH (default pydoc)")
    p.add_argument("--device", choices=DEVICES, help="auto (default), cpu or cuda")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set lr=3e-4 --set model.dc_rank=4")
    p.add_argument("--study", help="attach the run to this study (created if new)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue a stopped run from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--study")
    p.add_argument("--status")
    p.add_argument("--arch", choices=ARCHS)

    p = sub.add_parser("prices", help="show or edit the $ per device-hour price table")
    p.add_argument("--set", dest="prices", action="append", default=[], metavar="KIND=USD",
                   help="e.g. --set h100=2.20 (kinds: cpu, a100, h100, h200, other-gpu)")
    p.add_argument("--reset", action="store_true", help="back to the built-in defaults")

    p = sub.add_parser("bench", help="benchmarks; write JSON results")
    p.add_argument("what", choices=("model", "gpu"), help="model: training tokens/s of both "
                   "architectures side by side; gpu: kernel checks + benchmarks on a CUDA GPU")
    p.add_argument("--preset", default=None, help="model bench preset (default cpu-demo on CPU)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per architecture")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--out", help="JSON file to write (default runs/bench-*.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .jobs import RunError
    from .store import StoreError
    try:
        commands = {"train": cmd_train, "runs": cmd_runs, "prices": cmd_prices, "bench": cmd_bench}
        return commands[args.command](args)
    except (*USER_ERRORS, StoreError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an internal error: still one line unless asked for the traceback
        if os.environ.get("DCPOC_DEBUG"):
            raise
        print(f"error: internal error {type(e).__name__}: {e} (set DCPOC_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def cmd_train(args: argparse.Namespace) -> int:
    from .jobs import create_run, execute_run
    from .store import Store
    if args.resume:
        store = Store()
        summary = execute_run(store, args.resume, resume=True, progress=not args.no_progress)
        run_id = args.resume
    else:
        if not args.arch:
            raise ConfigError("--arch is required: transformer or dcformer")
        run = make_config(args.arch, args.preset, args.overrides, steps=args.steps, seed=args.seed,
                          corpus=args.corpus, device=args.device)
        corpus = load_corpus(run.train.corpus)   # bad corpus: fail before anything is written
        store = Store()
        run_id = create_run(store, run, corpus_fingerprint=corpus.fingerprint, study=args.study,
                            status="running")
        print(f"run {run_id}: {run.model.arch} {run.preset}, {run.train.steps} steps, "
              f"corpus {corpus.spec} ({len(corpus.data):,} bytes)", file=sys.stderr)
        summary = execute_run(store, run_id, progress=not args.no_progress)
    loss = summary["final_val_loss"]
    print(f"run {run_id} {summary['status']}: step {summary['step']}, val loss {loss:.4f} nats/byte, "
          f"{loss / math.log(2):.4f} bits/byte, {summary['tokens_per_s']:.0f} tokens/s"
          + (f" ({summary['error']})" if summary["error"] else ""))
    return 0 if summary["status"] in ("succeeded", "cancelled") else 1


def cmd_runs(args: argparse.Namespace) -> int:
    from .analysis import runs_table
    from .store import Store
    frame = runs_table(Store().list_runs(study=args.study, status=args.status, arch=args.arch))
    if args.json:
        print(frame.to_json(orient="records", indent=2, date_format="iso"))
    elif frame.empty:
        print("no runs yet: start one with `python -m dcpoc train --arch dcformer --preset tiny`")
    else:
        print(frame.to_string(index=False, na_rep="-", float_format=lambda x: f"{x:.4g}"))
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    from .costs import DEFAULT_PRICES_USD_PER_HOUR, parse_price
    from .store import Store
    store = Store()
    prices = {} if args.reset else dict(store.get_setting("prices", None) or {})
    for item in args.prices:
        kind, usd = parse_price(item)
        prices[kind] = usd
    if args.reset or args.prices:
        store.set_setting("prices", prices)
    for kind, default in DEFAULT_PRICES_USD_PER_HOUR.items():
        note = "" if kind not in prices else f"  (default {default:.2f})"
        print(f"{kind:<10} ${prices.get(kind, default):.2f}/hour{note}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    result = (bench.bench_model(args.preset, args.steps, args.device, args.compile)
              if args.what == "model" else bench.bench_gpu())
    path = bench.write_result(result, args.out)
    print(bench.format_result(result))
    print(f"results written to {path}")
    return 0
